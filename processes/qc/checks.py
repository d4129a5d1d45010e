"""The kinds of check a rule of the specification can name, each a function
(context, rule) that writes its findings into the staging schema's findings
table, mostly as one INSERT ... SELECT run by PostGIS.

A check reads its layers, fields and tolerances from the rule's parameters
and the specification: a new rule of an existing kind is data only.
Area and sliver checks use only features that are polygonal and valid
(`ok`); topology uses the pieces tables (invalid polygons repaired), so a
bad geometry is reported once, by GEOM-EMPTY or GEOM-INVALID.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb

from onemap.core.settings import load_yaml
from processes.qc.spec import Rule, Spec
from processes.qc.staging import Column, StagedLayer, Staging

TYPE_NAMES = {"text": ("OFTString",), "real": ("OFTReal",), "integer": ("OFTInteger", "OFTInteger64")}
TYPE_ZH = {"text": "文本", "real": "实数", "integer": "整数"}


@dataclass
class CheckContext:
    staging: Staging
    spec: Spec
    # (layer, field) -> (problem_zh, problem_en) for fields that are missing
    # or of the wrong type: other checks leave those fields alone.
    field_problems: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.field_problems = _field_problems(self.spec, self.staging.layers.values())
        self.staging.conn.execute(sql.SQL("""
            CREATE UNLOGGED TABLE {f} (
                seq bigserial PRIMARY KEY, rule text NOT NULL, layer text, feature_id text,
                other_layer text, other_id text, vals jsonb NOT NULL DEFAULT '{{}}', geom geometry)
            """).format(f=self.findings))

    @property
    def findings(self) -> sql.Composed:
        return self.staging.ident("findings")

    def tol(self, name: str) -> float:
        return self.spec.tolerances[name]

    def layer(self, name: str) -> StagedLayer | None:
        return self.staging.layers.get(name.upper())

    def layers(self, names: Iterable[str]) -> list[StagedLayer]:
        """Staged layers named (or matched by a pattern like ZXGH_*)."""
        out = []
        for name in names:
            if any(ch in name for ch in "*?["):
                out += [la for la in self.staging.layers.values()
                        if la.spec is not None and la.spec.name == name.upper()]
            elif (la := self.layer(name)) is not None:
                out.append(la)
        return out

    def column(self, layer: StagedLayer, name: str) -> Column | None:
        """A field usable by the checks: present and of the right type."""
        name = name.upper()
        if (layer.name, name) in self.field_problems:
            return None
        return layer.columns.get(name)

    def polygon_layers(self) -> list[StagedLayer]:
        return [la for la in self.staging.layers.values() if la.polygonal]

    def insert(self, rule: Rule, select: sql.Composable, params: dict[str, Any] | None = None) -> None:
        """Run `select` (columns: layer, feature_id, other_layer, other_id,
        vals, geom) into the findings of `rule`."""
        self.staging.conn.execute(sql.SQL(
            "INSERT INTO {f} (rule, layer, feature_id, other_layer, other_id, vals, geom) "
            "SELECT {rule}, * FROM ({select}) s").format(
                f=self.findings, rule=sql.Literal(rule.id), select=select), params)

    def add(self, rule: Rule, layer: str | None, vals: dict[str, Any], feature_id: str | None = None) -> None:
        self.staging.conn.execute(sql.SQL(
            "INSERT INTO {f} (rule, layer, feature_id, vals) VALUES (%s, %s, %s, %s)").format(f=self.findings),
            (rule.id, layer, feature_id, Jsonb(vals)))


def _field_problems(spec: Spec, layers: Iterable[StagedLayer]) -> dict[tuple[str, str], tuple[str, str]]:
    problems = {}
    for layer in layers:
        if layer.spec is None:
            continue
        ogr_types = {f.name.upper(): f.ogr_type for f in layer.source.fields}
        for required, fields in ((True, layer.spec.fields), (False, layer.spec.optional_fields)):
            for f in fields:
                if f.name not in ogr_types:
                    if required:
                        problems[(layer.name, f.name)] = ("缺失", "is missing")
                    continue
                actual = ogr_types[f.name]
                if actual not in TYPE_NAMES[f.type]:
                    problems[(layer.name, f.name)] = (
                        f"类型为 {actual}，应为{TYPE_ZH[f.type]}（{f.type}）",
                        f"is of type {actual}, not {f.type}")
                    continue
                column = layer.columns.get(f.name)
                if f.length and column and column.length and column.length > f.length:
                    problems[(layer.name, f.name)] = (
                        f"长度为 {column.length}，超过规定的 {f.length}",
                        f"is {column.length} characters wide, more than the {f.length} allowed")
    return problems


# --- structure ---------------------------------------------------------------------------------


def layer_present(ctx: CheckContext, rule: Rule) -> None:
    for spec in ctx.spec.layers:
        if spec.required and not spec.is_pattern and ctx.layer(spec.name) is None:
            ctx.add(rule, spec.name, {"layer_zh": spec.title_zh, "layer_en": spec.title_en})


def field_structure(ctx: CheckContext, rule: Rule) -> None:
    for (layer, name), (zh, en) in sorted(ctx.field_problems.items()):
        ctx.add(rule, layer, {"field": name, "problem_zh": zh, "problem_en": en})


def crs(ctx: CheckContext, rule: Rule) -> None:
    accepted = ctx.spec.accepted_crs
    for layer in ctx.staging.layers.values():
        if layer.spatial and layer.source.epsg not in accepted:
            value = f"EPSG:{layer.source.epsg}" if layer.source.epsg else (layer.source.crs_text or "")[:80]
            ctx.add(rule, layer.name, {"value": value, "accepted": "、".join(f"EPSG:{c}" for c in accepted)})


# --- attributes --------------------------------------------------------------------------------


def _feature_geom(layer: StagedLayer) -> sql.Composable:
    return sql.SQL("g.geom") if layer.polygonal else sql.SQL("NULL::geometry")


def _with_geom(ctx: CheckContext, layer: StagedLayer) -> sql.Composable:
    if layer.polygonal:
        return sql.SQL("LEFT JOIN {g} g ON g.fid = t.fid AND g.ok").format(g=ctx.staging.ident(layer.geom_table))
    return sql.SQL("")


def not_null(ctx: CheckContext, rule: Rule) -> None:
    for layer in ctx.staging.layers.values():
        if layer.spec is None:
            continue
        checks = [(f.name, ctx.column(layer, f.name)) for f in layer.spec.fields]
        checks = [(name, col) for name, col in checks if col is not None]
        if not checks:
            continue
        empty = sql.SQL(", ").join(
            sql.SQL("({n}, t.{c} IS NULL OR btrim(t.{c}::text) = '')").format(
                n=sql.Literal(name), c=sql.Identifier(col.name)) for name, col in checks)
        ctx.insert(rule, sql.SQL("""
            SELECT {layer}, t.fid::text, NULL, NULL, jsonb_build_object('field', v.f), {geom}
            FROM {t} t CROSS JOIN LATERAL (VALUES {empty}) v(f, bad) {join}
            WHERE v.bad""").format(layer=sql.Literal(layer.name), geom=_feature_geom(layer),
                                   t=ctx.staging.ident(layer.table), empty=empty, join=_with_geom(ctx, layer)))


def _domain_table(ctx: CheckContext, domain: str) -> sql.Composed:
    table = ctx.staging.ident(f"domain_{domain}")
    ctx.staging.conn.execute(sql.SQL(
        "CREATE UNLOGGED TABLE IF NOT EXISTS {t} (code text PRIMARY KEY, name text NOT NULL)").format(t=table))
    if not ctx.staging.conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {t})").format(t=table)).fetchone()[0]:
        with ctx.staging.conn.cursor() as cur, cur.copy(sql.SQL("COPY {t} (code, name) FROM STDIN").format(t=table)) as copy:
            for code, name in ctx.spec.domains[domain].names.items():
                copy.write_row((code, name))
    return table


def _target_column(ctx: CheckContext, target: dict[str, str]) -> tuple[StagedLayer, Column] | None:
    """The staged layer and column a rule's target (layer, field) names;
    None when the package lacks either (STRUCT-LAYER / STRUCT-FIELD say so)."""
    layer = ctx.layer(target["layer"])
    col = ctx.column(layer, target["field"]) if layer else None
    return (layer, col) if col is not None else None


def _unknown_values(ctx: CheckContext, rule: Rule, target: dict[str, str], table: sql.Composable,
                    column: str) -> None:
    """Features whose target field holds a value that `table.column` does not."""
    found = _target_column(ctx, target)
    if found is None:
        return
    layer, col = found
    ctx.insert(rule, sql.SQL("""
        SELECT {layer}, t.fid::text, NULL, NULL,
               jsonb_build_object('field', {field}, 'value', t.{c}), {geom}
        FROM {t} t {join}
        WHERE btrim(t.{c}::text) <> ''
          AND NOT EXISTS (SELECT 1 FROM {r} r WHERE btrim(r.{rc}::text) = btrim(t.{c}::text))
        """).format(layer=sql.Literal(layer.name), field=sql.Literal(target["field"].upper()),
                    c=sql.Identifier(col.name), geom=_feature_geom(layer), t=ctx.staging.ident(layer.table),
                    join=_with_geom(ctx, layer), r=table, rc=sql.Identifier(column)))


def code_domain(ctx: CheckContext, rule: Rule) -> None:
    for target in rule.params["targets"]:
        _unknown_values(ctx, rule, target, _domain_table(ctx, target["domain"]), "code")


def code_name(ctx: CheckContext, rule: Rule) -> None:
    for target in rule.params["targets"]:
        layer = ctx.layer(target["layer"])
        if layer is None:
            continue
        code, name = ctx.column(layer, target["code"]), ctx.column(layer, target["name"])
        if code is None or name is None:
            continue
        ctx.insert(rule, sql.SQL("""
            SELECT {layer}, t.fid::text, NULL, NULL,
                   jsonb_build_object('field', {field}, 'value', t.{n}, 'code', d.code, 'expected', d.name),
                   {geom}
            FROM {t} t JOIN {d} d ON d.code = btrim(t.{c}) {join}
            WHERE btrim(t.{n}) <> '' AND btrim(t.{n}) <> d.name
            """).format(layer=sql.Literal(layer.name), field=sql.Literal(target["name"].upper()),
                        n=sql.Identifier(name.name), c=sql.Identifier(code.name), geom=_feature_geom(layer),
                        t=ctx.staging.ident(layer.table), d=_domain_table(ctx, target["domain"]),
                        join=_with_geom(ctx, layer)))


def foreign_key(ctx: CheckContext, rule: Rule) -> None:
    ref = rule.params["references"]
    ref_layer = ctx.layer(ref["layer"])
    ref_col = ctx.column(ref_layer, ref["field"]) if ref_layer else None
    if ref_col is None:
        return  # no XZQ to refer to: STRUCT-LAYER / STRUCT-FIELD say so
    for target in rule.params["targets"]:
        _unknown_values(ctx, rule, target, ctx.staging.ident(ref_layer.table), ref_col.name)


def field_pattern(ctx: CheckContext, rule: Rule) -> None:
    """Values of a field that do not match a regular expression (a code's
    length and digits: the township code has 9, a village's 12)."""
    for target in rule.params["targets"]:
        found = _target_column(ctx, target)
        if found is None:
            continue
        layer, col = found
        ctx.insert(rule, sql.SQL("""
            SELECT {layer}, t.fid::text, NULL, NULL,
                   jsonb_build_object('field', {field}, 'value', t.{c}, 'expected_zh', {zh}, 'expected_en', {en}),
                   {geom}
            FROM {t} t {join}
            WHERE btrim(t.{c}::text) <> '' AND btrim(t.{c}::text) !~ {pattern}""").format(
            layer=sql.Literal(layer.name), field=sql.Literal(target["field"].upper()), c=sql.Identifier(col.name),
            zh=sql.Literal(target["expected"]["zh"]), en=sql.Literal(target["expected"]["en"]),
            geom=_feature_geom(layer), t=ctx.staging.ident(layer.table), join=_with_geom(ctx, layer),
            pattern=sql.Literal(target["pattern"])))


# --- geometry ----------------------------------------------------------------------------------


def geometry_valid(ctx: CheckContext, rule: Rule) -> None:
    reasons = rule.params.get("reasons", {})
    for layer in ctx.polygon_layers():
        rows = ctx.staging.conn.execute(sql.SQL("""
            SELECT fid, reason, ST_AsBinary(location) FROM {g}
            WHERE kind = 'polygon' AND NOT ok ORDER BY fid""").format(
            g=ctx.staging.ident(layer.geom_table))).fetchall()
        for fid, reason, location in rows:
            # GEOS says "Self-intersection[112.1 28.3]": the name, then the place
            name = (reason or "").split("[", 1)[0].strip()
            ctx.staging.conn.execute(sql.SQL(
                "INSERT INTO {f} (rule, layer, feature_id, vals, geom) "
                "VALUES (%s, %s, %s, %s, ST_SetSRID(ST_GeomFromWKB(%s), %s))").format(f=ctx.findings),
                (rule.id, layer.name, str(fid),
                 Jsonb({"reason_zh": reasons.get(name, name), "reason_en": reason}),
                 location, ctx.spec.storage_srid))


def geometry_polygonal(ctx: CheckContext, rule: Rule) -> None:
    for layer in ctx.polygon_layers():
        ctx.insert(rule, sql.SQL("""
            SELECT {layer}, fid::text, NULL, NULL,
                   jsonb_build_object(
                       'problem_zh', CASE kind WHEN 'null' THEN '缺失' WHEN 'empty' THEN '为空'
                                     ELSE '不是面，而是 ' || GeometryType(geom) END,
                       'problem_en', CASE kind WHEN 'null' THEN 'is missing' WHEN 'empty' THEN 'is empty'
                                     ELSE 'is not polygonal but ' || GeometryType(geom) END),
                   CASE WHEN kind = 'other' THEN geom END
            FROM {g} WHERE kind <> 'polygon'""").format(
            layer=sql.Literal(layer.name), g=ctx.staging.ident(layer.geom_table)))


def sliver(ctx: CheckContext, rule: Rule) -> None:
    """Parts smaller than sliver_area_m2, or thinner than sliver_width_m
    (the widest circle that fits inside, in the UTM zone of the part). A
    cheap planar screen, 2·area/perimeter (an upper bound of the width of a
    strip), picks the candidates; only those are measured."""
    min_area, min_width = ctx.tol("sliver_area_m2"), ctx.tol("sliver_width_m")
    # metres per degree, generous: the screen may only let through too many
    screen_width = 3 * min_width / 111_320 / 0.5
    for layer in ctx.polygon_layers():
        ctx.insert(rule, sql.SQL("""
            WITH parts AS (
                SELECT g.fid, d.geom FROM {g} g, LATERAL ST_Dump(g.geom) d
                WHERE g.ok AND (g.area < {min_area} OR ST_NumGeometries(g.geom) > 1
                                OR 2 * ST_Area(g.geom) / NULLIF(ST_Perimeter(g.geom), 0) < {screen})
            ), measured AS (
                SELECT fid, geom, ST_Area(geom::geography) AS area,
                       2 * (ST_MaximumInscribedCircle(ST_Transform(geom,
                            32600 + floor((ST_X(ST_PointOnSurface(geom)) + 180) / 6)::int + 1))).radius AS width
                FROM parts
            )
            SELECT {layer}, fid::text, NULL, NULL,
                   jsonb_build_object('area', round(area::numeric, 3), 'width', round(width::numeric, 3)), geom
            FROM measured WHERE area < {min_area} OR width < {min_width}""").format(
            g=ctx.staging.ident(layer.geom_table), layer=sql.Literal(layer.name),
            min_area=sql.Literal(min_area), min_width=sql.Literal(min_width),
            screen=sql.Literal(screen_width)))


# --- topology ----------------------------------------------------------------------------------

def _meeting_pairs(ctx: CheckContext, name: str, a: sql.Composable, b: sql.Composable | None) -> sql.Composed:
    """A table (fa, fb) of the feature pairs whose pieces' interiors meet
    (DE-9IM T********: they intersect and do not only touch); `a` and `b`
    select pieces (fid, geom), b None: a with itself, fa < fb. Found by
    shapely: an STR-tree join, then one vectorised touches test — a
    fraction of the cost of relating pair by pair in SQL, and GEOS 3.14's
    relate decides the near-coincident edges that PostGIS's GEOS 3.11
    throws on."""
    conn = ctx.staging.conn

    def pieces(select: sql.Composable) -> tuple[np.ndarray, np.ndarray]:
        rows = conn.execute(sql.SQL("SELECT fid, ST_AsBinary(geom) FROM ({}) p").format(select)).fetchall()
        return (np.array([r[0] for r in rows], dtype=np.int64),
                shapely.from_wkb(np.array([bytes(r[1]) for r in rows], dtype=object)))

    fa, ga = pieces(a)
    fb, gb = (fa, ga) if b is None else pieces(b)
    ia, ib = shapely.STRtree(gb).query(ga, predicate="intersects")
    if b is None:
        ia, ib = ia[fa[ia] < fb[ib]], ib[fa[ia] < fb[ib]]
    meet = ~shapely.touches(ga[ia], gb[ib])
    table = ctx.staging.ident(f"meet_{name}")
    conn.execute(sql.SQL("CREATE UNLOGGED TABLE {t} (fa bigint, fb bigint)").format(t=table))
    with conn.cursor().copy(sql.SQL("COPY {t} (fa, fb) FROM STDIN").format(t=table)) as copy:
        for pair in {(int(x), int(y)) for x, y in zip(fa[ia[meet]], fb[ib[meet]], strict=True)}:
            copy.write_row(pair)
    return table


def _pieces(layer: StagedLayer, ctx: CheckContext) -> sql.Composed:
    return sql.SQL("SELECT fid, geom FROM {s}").format(s=ctx.staging.ident(layer.pieces_table))


def _overlaps(ctx: CheckContext, rule: Rule, a: StagedLayer, b: StagedLayer, same: bool) -> None:
    """Pairs of features of a and b whose interiors overlap by more than
    area_m2: the pairs that meet, then their pieces' intersections."""
    meet = _meeting_pairs(ctx, f"{rule.id}_{a.table}_{b.table}".lower().replace("-", "_"),
                          _pieces(a, ctx), None if same else _pieces(b, ctx))
    ctx.insert(rule, sql.SQL("""
        WITH pairs AS (
            SELECT p.fa, p.fb, ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3) AS geom
            FROM {meet} p JOIN {sa} a ON a.fid = p.fa JOIN {sb} b ON b.fid = p.fb AND a.geom && b.geom
        ), merged AS (
            SELECT fa, fb, ST_Union(geom) AS geom FROM pairs GROUP BY fa, fb
        )
        SELECT {la}, fa::text, {lb}, fb::text,
               jsonb_build_object('area', round({m2}(geom)::numeric, 2)), geom
        FROM merged WHERE {m2}(geom) > {min_area}""").format(
        meet=meet, sa=ctx.staging.ident(a.pieces_table), sb=ctx.staging.ident(b.pieces_table),
        la=sql.Literal(a.name), lb=sql.Literal(b.name), m2=ctx.staging.ident("planar_m2"),
        min_area=sql.Literal(ctx.tol("area_m2"))))


def self_overlap(ctx: CheckContext, rule: Rule) -> None:
    for layer in ctx.layers(rule.params["layers"]):
        if layer.polygonal:
            _overlaps(ctx, rule, layer, layer, same=True)


def cross_overlap(ctx: CheckContext, rule: Rule) -> None:
    layers = [la for la in ctx.layers(rule.params["layers"]) if la.polygonal]
    for i, a in enumerate(layers):
        for b in layers[i + 1:]:
            _overlaps(ctx, rule, a, b, same=False)


def _extent(ctx: CheckContext, within: str) -> sql.Composed | None:
    """The extent of the `within` layer (XZQ) cut into small pieces that
    tile it, with their ellipsoidal areas: the yardstick of gaps and of
    parts outside. Built once per run."""
    layer = ctx.layer(within)
    if layer is None or not layer.polygonal:
        return None
    table = ctx.staging.ident(f"extent_{layer.table}")
    exists = ctx.staging.conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f'"{ctx.staging.schema}"."extent_{layer.table}"',)).fetchone()[0]
    if not exists:
        ctx.staging.conn.execute(sql.SQL("""
            CREATE UNLOGGED TABLE {e} AS
            SELECT row_number() OVER () AS pid, geom, ST_Area(geom::geography) AS area
            FROM (SELECT ST_Subdivide(ST_Union(geom), 128) AS geom FROM {s}) s;
            CREATE INDEX ON {e} USING gist (geom); ANALYZE {e}""").format(
            e=table, s=ctx.staging.ident(layer.pieces_table)))
    return table


def _cover(ctx: CheckContext, layer: StagedLayer, extent: sql.Composed) -> sql.Composed:
    """How much of each piece of a layer lies in each piece of the extent:
    (pid, fid, area); pieces inside a piece of the extent (ST_Covers, the
    extent's piece prepared once) take their area without an intersection."""
    table = ctx.staging.ident(f"cover_{layer.table}")
    ctx.staging.conn.execute(sql.SQL("""
        CREATE UNLOGGED TABLE IF NOT EXISTS {c} AS
        SELECT e.pid, s.fid,
               CASE WHEN ST_Covers(e.geom, s.geom) THEN ST_Area(s.geom::geography)
                    ELSE ST_Area(ST_Intersection(s.geom, e.geom)::geography) END AS area
        FROM {e} e JOIN {s} s ON s.geom && e.geom
        WHERE ST_Intersects(s.geom, e.geom)""").format(
        c=table, e=extent, s=ctx.staging.ident(layer.pieces_table)))
    return table


def outside(ctx: CheckContext, rule: Rule) -> None:
    extent = _extent(ctx, rule.params["within"])
    if extent is None:
        return
    min_area = ctx.tol("area_m2")
    for layer in ctx.layers(rule.params["layers"]):
        if not layer.polygonal or layer.name == rule.params["within"].upper():
            continue
        cover = _cover(ctx, layer, extent)
        # Screen: the feature's area minus what lies inside; measure exactly
        # only where that leaves more than a tenth of the tolerance.
        ctx.insert(rule, sql.SQL("""
            WITH inside AS (SELECT fid, sum(area) AS area FROM {c} GROUP BY fid),
            features AS (
                SELECT fid, geom, area FROM {g} WHERE ok
                UNION ALL  -- repaired invalid ones
                SELECT s.fid, ST_Union(s.geom), ST_Area(ST_Union(s.geom)::geography)
                FROM {s} s JOIN {g} g ON g.fid = s.fid AND NOT g.ok GROUP BY s.fid
            ), candidates AS (
                SELECT f.fid, f.geom FROM features f LEFT JOIN inside i ON i.fid = f.fid
                WHERE f.area - coalesce(i.area, 0) > {screen}
            ), parts AS (
                SELECT c.fid, ST_CollectionExtract(ST_Difference(c.geom, coalesce(
                    (SELECT ST_Union(e.geom) FROM {e} e WHERE e.geom && c.geom),
                    ST_SetSRID('GEOMETRYCOLLECTION EMPTY'::geometry, ST_SRID(c.geom)))), 3) AS geom
                FROM candidates c
            )
            SELECT {layer}, fid::text, NULL, NULL,
                   jsonb_build_object('area', round({m2}(geom)::numeric, 2)), geom
            FROM parts WHERE {m2}(geom) > {min_area}""").format(
            c=cover, s=ctx.staging.ident(layer.pieces_table), g=ctx.staging.ident(layer.geom_table),
            e=extent, layer=sql.Literal(layer.name), m2=ctx.staging.ident("planar_m2"),
            screen=sql.Literal(min_area / 10), min_area=sql.Literal(min_area)))


def coverage_gap(ctx: CheckContext, rule: Rule) -> None:
    """Gaps of a layer that should cover the extent: pieces of the extent
    whose covered area falls short are measured exactly; the gaps found in
    neighbouring pieces are merged before the tolerance applies."""
    extent = _extent(ctx, rule.params["within"])
    layer = ctx.layer(rule.params["layer"])
    if extent is None or layer is None or not layer.polygonal:
        return
    cover = _cover(ctx, layer, extent)
    within = ctx.layer(rule.params["within"])
    name = ctx.column(within, "XZQMC") or ctx.column(within, "XZQDM")
    unit = (sql.SQL("""(SELECT t.{n}::text FROM {g} x JOIN {t} t ON t.fid = x.fid
                         WHERE x.ok AND ST_Intersects(x.geom, ST_PointOnSurface(gaps.geom))
                         ORDER BY x.area LIMIT 1)""").format(
                n=sql.Identifier(name.name), g=ctx.staging.ident(within.geom_table),
                t=ctx.staging.ident(within.table)) if name else sql.SQL("''"))
    min_area = ctx.tol("area_m2")
    ctx.insert(rule, sql.SQL("""
        WITH short AS (
            SELECT e.pid, e.geom FROM {e} e LEFT JOIN
                   (SELECT pid, sum(area) AS area FROM {c} GROUP BY pid) c ON c.pid = e.pid
            WHERE e.area - coalesce(c.area, 0) > {screen}
        ), holes AS (
            SELECT ST_CollectionExtract(ST_Difference(sh.geom, coalesce(
                       (SELECT ST_Union(s.geom) FROM {s} s WHERE s.geom && sh.geom),
                       ST_SetSRID('GEOMETRYCOLLECTION EMPTY'::geometry, ST_SRID(sh.geom)))), 3) AS geom
            FROM short sh
        ), gaps AS (
            SELECT (ST_Dump(ST_Union(geom))).geom AS geom FROM holes
        )
        SELECT {layer}, NULL, NULL, NULL,
               jsonb_build_object('area', round({m2}(geom)::numeric, 2), 'unit', {unit}),
               geom
        FROM gaps WHERE {m2}(geom) > {min_area}""").format(
        e=extent, c=cover, s=ctx.staging.ident(layer.pieces_table), layer=sql.Literal(layer.name),
        unit=unit, screen=sql.Literal(min_area / 10), min_area=sql.Literal(min_area),
        m2=ctx.staging.ident("planar_m2")))


def on_class(ctx: CheckContext, rule: Rule) -> None:
    """Features of `layer` lying (more than area_m2) on features of
    over.layer whose over.field does not start with an allowed prefix."""
    layer, over = ctx.layer(rule.params["layer"]), rule.params["over"]
    base = ctx.layer(over["layer"])
    col = ctx.column(base, over["field"]) if base else None
    if layer is None or col is None or not layer.polygonal or not base.polygonal:
        return
    allowed = sql.SQL(" OR ").join(sql.SQL("starts_with(btrim(t.{c}), {p})").format(
        c=sql.Identifier(col.name), p=sql.Literal(prefix)) for prefix in over["allowed_prefix"])
    sb, tb = ctx.staging.ident(base.pieces_table), ctx.staging.ident(base.table)
    other = sql.SQL("SELECT s.fid, s.geom FROM {sb} s JOIN {tb} t ON t.fid = s.fid "
                    "WHERE NOT ({allowed}) OR t.{c} IS NULL").format(
        sb=sb, tb=tb, allowed=allowed, c=sql.Identifier(col.name))
    meet = _meeting_pairs(ctx, f"{rule.id}_{layer.table}".lower().replace("-", "_"), _pieces(layer, ctx), other)
    ctx.insert(rule, sql.SQL("""
        WITH pairs AS (
            SELECT p.fa, p.fb, ST_CollectionExtract(ST_Intersection(a.geom, o.geom), 3) AS geom
            FROM {meet} p JOIN {sa} a ON a.fid = p.fa JOIN {sb} o ON o.fid = p.fb AND a.geom && o.geom
        ), merged AS (
            SELECT fa, fb, ST_Union(geom) AS geom FROM pairs GROUP BY fa, fb
        )
        SELECT {la}, fa::text, {lb}, fb::text,
               jsonb_build_object('area', round({m2}(geom)::numeric, 2),
                                  'value', (SELECT btrim(t.{c}) FROM {tb} t WHERE t.fid = merged.fb)), geom
        FROM merged WHERE {m2}(geom) > {min_area}""").format(
        meet=meet, c=sql.Identifier(col.name), sb=sb, tb=tb, sa=ctx.staging.ident(layer.pieces_table),
        m2=ctx.staging.ident("planar_m2"), la=sql.Literal(layer.name), lb=sql.Literal(base.name),
        min_area=sql.Literal(ctx.tol("area_m2"))))


def area_field(ctx: CheckContext, rule: Rule) -> None:
    rel, absolute = ctx.tol("mj_relative"), ctx.tol("mj_absolute_m2")
    for layer in ctx.polygon_layers():
        col = ctx.column(layer, rule.params["field"])
        if col is None:
            continue
        ctx.insert(rule, sql.SQL("""
            SELECT {layer}, g.fid::text, NULL, NULL,
                   jsonb_build_object('value', t.{c}, 'expected', round(g.area::numeric, 2)), g.geom
            FROM {g} g JOIN {t} t ON t.fid = g.fid
            WHERE g.ok AND t.{c} IS NOT NULL
              AND abs(t.{c} - g.area) > greatest({rel} * g.area, {abs})""").format(
            layer=sql.Literal(layer.name), c=sql.Identifier(col.name), g=ctx.staging.ident(layer.geom_table),
            t=ctx.staging.ident(layer.table), rel=sql.Literal(rel), abs=sql.Literal(absolute)))


# --- indicators --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorRow:
    fid: int
    zbmc: str
    zbz: float | None
    dw: str
    zblx: str
    xzqdm: str


def _indicator_rows(ctx: CheckContext) -> list[IndicatorRow]:
    layer = ctx.layer("GHZB")
    if layer is None:
        return []
    cols = {name: ctx.column(layer, name) for name in ("ZBMC", "ZBZ", "DW", "ZBLX", "XZQDM")}
    if any(c is None for c in cols.values()):
        return []
    rows = ctx.staging.conn.execute(sql.SQL(
        "SELECT fid, btrim({zbmc}), {zbz}::float8, btrim({dw}), btrim({zblx}), btrim({xzqdm}::text) FROM {t} "
        "ORDER BY fid").format(t=ctx.staging.ident(layer.table),
                               **{k.lower(): sql.Identifier(c.name) for k, c in cols.items()})).fetchall()
    return [IndicatorRow(*r) for r in rows]


def _unit_pieces(ctx: CheckContext, xzq: StagedLayer, code: Column) -> sql.Composed:
    """Every XZQ unit cut into small pieces (xzqdm, geom), built once per run:
    intersections with a whole county are slow, and a unit serves several
    indicators."""
    table = ctx.staging.ident("unit_pieces")
    ctx.staging.conn.execute(sql.SQL("""
        CREATE UNLOGGED TABLE IF NOT EXISTS {u} AS
        SELECT xzqdm, ST_Subdivide(geom, 128) AS geom
        FROM (SELECT btrim(x.{code}::text) AS xzqdm, ST_Union(g.geom) AS geom
              FROM {xg} g JOIN {xt} x ON x.fid = g.fid WHERE g.ok GROUP BY 1) s;
        CREATE INDEX IF NOT EXISTS unit_pieces_xzqdm ON {u} (xzqdm)""").format(
        u=table, code=sql.Identifier(code.name), xg=ctx.staging.ident(xzq.geom_table),
        xt=ctx.staging.ident(xzq.table)))
    return table


def _computed_areas(ctx: CheckContext, layer_name: str, where_field: str | None,
                    prefixes: tuple[str, ...], wanted: list[str]) -> dict[str, float] | None:
    """Area (m²) of a layer inside each XZQ unit of `wanted` that the XZQ
    layer has, in one statement; None when it cannot be computed (layer or
    XZQ missing). A unit without any of the layer's features has 0."""
    layer, xzq = ctx.layer(layer_name), ctx.layer("XZQ")
    code = ctx.column(xzq, "XZQDM") if xzq else None
    if layer is None or not layer.polygonal or code is None:
        return None
    where = sql.SQL("TRUE")
    join = sql.SQL("")
    if where_field:
        col = ctx.column(layer, where_field)
        if col is None:
            return None
        join = sql.SQL("JOIN {t} t ON t.fid = s.fid").format(t=ctx.staging.ident(layer.table))
        where = sql.SQL(" OR ").join(sql.SQL("starts_with(btrim(t.{c}), {p})").format(
            c=sql.Identifier(col.name), p=sql.Literal(p)) for p in prefixes)
    units = _unit_pieces(ctx, xzq, code)
    areas = dict.fromkeys((u for (u,) in ctx.staging.conn.execute(
        sql.SQL("SELECT DISTINCT xzqdm FROM {u} WHERE xzqdm = ANY(%s)").format(u=units), (wanted,))), 0.0)
    areas.update((unit, float(area)) for unit, area in ctx.staging.conn.execute(sql.SQL("""
        SELECT u.xzqdm, sum(CASE WHEN ST_Covers(u.geom, s.geom) THEN ST_Area(s.geom::geography)
                                 ELSE ST_Area(ST_Intersection(s.geom, u.geom)::geography) END)
        FROM {u} u JOIN {s} s ON s.geom && u.geom {join}
        WHERE u.xzqdm = ANY(%s) AND ({where}) AND ST_Intersects(s.geom, u.geom) GROUP BY u.xzqdm""").format(
        u=units, s=ctx.staging.ident(layer.pieces_table), join=join, where=where), (wanted,)))
    return areas


def _fmt(value: float) -> str:
    return f"{value:,.2f}"


def indicator_computed(ctx: CheckContext, rule: Rule) -> None:
    by_name = {i.zbmc: i for i in ctx.spec.indicators}
    computed: dict[str, dict[str, float] | None] = {}  # indicator -> unit -> m², each computed once
    rows = _indicator_rows(ctx)
    wanted = sorted({row.xzqdm for row in rows if row.xzqdm})
    for row in rows:
        indicator = by_name.get(row.zbmc)
        factor = ctx.spec.units.get(row.dw)
        if indicator is None or row.zbz is None or factor is None:
            continue
        if indicator.zbmc not in computed:
            computed[indicator.zbmc] = _computed_areas(ctx, indicator.layer, indicator.where_field,
                                                       indicator.where_prefix, wanted)
        area = (computed[indicator.zbmc] or {}).get(row.xzqdm)
        if area is None:
            continue
        expected = area / factor
        if abs(row.zbz - expected) > ctx.tol("indicator_relative") * abs(expected):
            ctx.add(rule, "GHZB", {"value": row.zbmc, "unit": row.xzqdm, "reported": _fmt(row.zbz),
                                   "expected": _fmt(expected), "dw": row.dw, "other_layer": indicator.layer},
                    feature_id=str(row.fid))


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "=": lambda a, b: math.isclose(a, b, rel_tol=1e-9)}
_OP_ZH = {">=": "不低于", "<=": "不超过", "=": "等于"}


def load_targets(path: Path) -> list[dict[str, Any]]:
    """上级规划下达的约束性指标: targets the upper-level plan assigns."""
    return load_yaml(path).get("targets") or []


def indicator_target(ctx: CheckContext, rule: Rule) -> None:
    _check_targets(ctx, rule, load_targets((ctx.spec.path.parent / rule.params["targets_file"]).resolve()),
                   report_missing=True)


def indicator_allocation(ctx: CheckContext, rule: Rule) -> None:
    """The package's binding indicators against the city's allocation to
    its units (分解下达, supervision.indicator_target): the indicator's
    direction gives the comparison, its catalogue unit the target's."""
    units = {r.xzqdm for r in _indicator_rows(ctx)}
    targets = []
    for entry in rule.params["allocations"]:
        rows = ctx.staging.conn.execute("""
            SELECT t.xzqdm, t.value, i.unit, i.direction FROM supervision.indicator_target t
            JOIN supervision.indicator i USING (code)
            WHERE t.code = %s AND t.target_year = %s AND t.xzqdm = ANY(%s)""",
            (entry["code"], entry["target_year"], sorted(units))).fetchall()
        targets += [{"xzqdm": xzqdm, "zbmc": entry["zbmc"], "op": ">=" if direction == "higher" else "<=",
                     "value": value, "dw": unit, "year": entry["target_year"]}
                    for xzqdm, value, unit, direction in rows]
    _check_targets(ctx, rule, targets, report_missing=False)


def _check_targets(ctx: CheckContext, rule: Rule, targets: list[dict[str, Any]], report_missing: bool) -> None:
    rows = _indicator_rows(ctx)
    for target in targets:
        factor_t = ctx.spec.units[target["dw"]]
        matches = [r for r in rows if r.zbmc == target["zbmc"] and r.xzqdm == str(target["xzqdm"])
                   and r.zblx == "约束性"]
        op = target["op"]
        common = {"op": _OP_ZH[op] + f" ({op})", "year": target.get("year", "")}
        if report_missing and not matches and ctx.layer("GHZB") is not None:
            ctx.add(rule, "GHZB", {"value": target["zbmc"], "unit": target["xzqdm"], "reported": "无 / none",
                                   "expected": _fmt(target["value"]), "dw": target["dw"], **common})
        for row in matches:
            factor = ctx.spec.units.get(row.dw)
            if row.zbz is None or factor is None:
                continue
            if not _COMPARE[op](row.zbz * factor, target["value"] * factor_t):
                ctx.add(rule, "GHZB", {"value": row.zbmc, "unit": row.xzqdm, "reported": _fmt(row.zbz),
                                       "expected": _fmt(target["value"] * factor_t / factor), "dw": row.dw,
                                       **common}, feature_id=str(row.fid))


CHECKS: dict[str, Callable[[CheckContext, Rule], None]] = {
    "layer_present": layer_present,
    "field_structure": field_structure,
    "crs": crs,
    "not_null": not_null,
    "code_domain": code_domain,
    "code_name": code_name,
    "foreign_key": foreign_key,
    "geometry_valid": geometry_valid,
    "geometry_polygonal": geometry_polygonal,
    "sliver": sliver,
    "self_overlap": self_overlap,
    "cross_overlap": cross_overlap,
    "outside": outside,
    "coverage_gap": coverage_gap,
    "on_class": on_class,
    "area_field": area_field,
    "indicator_computed": indicator_computed,
    "indicator_target": indicator_target,
    "field_pattern": field_pattern,
    "indicator_allocation": indicator_allocation,
}
