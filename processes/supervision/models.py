"""指标模型 model kinds, each implemented once: a model is a kind plus its
parameters (config/indicators/models.yaml, versioned in
supervision.model_version). A layer is measured once per year, for every
township and class, in one SQL statement (features cut by the townships,
which tile the city, measured on the ellipsoid); a model then sums the
classes it names and rolls the townships up to their county and the city —
never a query per unit.

A value comes from the One Map of one year: plan layers as in force at the
end of that year (onemap.core.inforce), current land use (DLTB) with the
changes of later years undone (supervision.dltb_change).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.errors import invalid
from onemap.core.inforce import in_force
from onemap.core.registry import Layer, load_layers
from onemap.core.units import M2_PER_HA, M2_PER_MU

LAND_USE_LAYER = "DLTB"  # the layer whose past years supervision.dltb_change restores
CLASS_COLUMNS = ("ydyhdm", "dlbm")
# the area units an area model's m² convert to
AREA_UNITS = {"m²": 1.0, "km²": 1e-6, "公顷": 1 / M2_PER_HA, "亩": 1 / M2_PER_MU, "万亩": 1 / (M2_PER_MU * 1e4)}


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    kind: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Result:
    """A model's values by XZQ code and the data versions they came from."""

    values: dict[str, float]
    data_versions: dict[str, Any]


# an operand {"indicator": code} of a ratio: its stored values of the year
IndicatorValues = Callable[[str], Result]


def active_models(conn: psycopg.Connection) -> dict[str, ModelVersion]:
    return {m: ModelVersion(m, v, k, p) for m, v, k, p in conn.execute(
        "SELECT model, version, kind, params FROM supervision.model_version WHERE active")}


def end_of_year(year: int) -> str:
    """The instant a year's plan state is taken at (SQL, from an integer)."""
    return f"make_timestamptz({int(year)}, 12, 31, 23, 59, 59, 'Asia/Shanghai')"


def _layer(layer_id: str) -> Layer:
    layers = {layer.id: layer for layer in load_layers()}
    if layer_id not in layers:
        raise invalid("layer", f"模型引用的图层 {layer_id} 不存在", f"The model's layer {layer_id} does not exist")
    return layers[layer_id]


def _class_column(conn: psycopg.Connection, layer: Layer) -> str | None:
    columns = {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (layer.schema, layer.table_name))}
    return next((c for c in CLASS_COLUMNS if c in columns), None)


def features_of_year(conn: psycopg.Connection, layer: Layer, year: int) -> tuple[sql.Composable, list[Any], dict[str, Any]]:
    """The layer's features of the year (id, code, geom), with the data
    versions they come from."""
    table = sql.Identifier(layer.schema, layer.table_name)
    column = _class_column(conn, layer)
    if layer.id == LAND_USE_LAYER:
        code = sql.SQL("coalesce((SELECT c.dlbm_before FROM supervision.dltb_change c WHERE c.dltb_id = t.id "
                       "AND c.year > %s ORDER BY c.year LIMIT 1), t.dlbm)")
        params: list[Any] = [year]
        where = sql.SQL("TRUE")
        latest = conn.execute("SELECT max(year) FROM supervision.dltb_change WHERE year <= %s", (year,)).fetchone()[0]
        versions: dict[str, Any] = {layer.id: {"year": year, "changes_to": latest}}
    else:
        code = sql.Identifier("t", column) if column else sql.SQL("''")
        params = []
        where = sql.SQL(in_force(end_of_year(year), "t") if layer.versioned else "TRUE")
        versions = {layer.id: [r[0] for r in conn.execute(sql.SQL(
            "SELECT DISTINCT plan_version FROM {} t WHERE {} ORDER BY 1").format(table, where))]
            if layer.versioned else "current"}
    query = sql.SQL("SELECT t.id, {code} AS code, t.geom FROM {table} t WHERE {where}").format(
        code=code, table=table, where=where)
    return query, params, versions


Measure = dict[tuple[str, str], float]  # (township, class code) -> m² or count


def _measured_by_class(conn: psycopg.Connection, layer: Layer, year: int,
                       measure: str) -> tuple[Measure, dict[str, Any]]:
    """Ellipsoidal `measure` (ST_Area: m², ST_Length: m) of a layer's
    features by township and class, in one statement: a feature inside a
    township takes its whole measure, the others that of their part in it.
    ST_Covers with the township first: PostGIS prepares the argument that
    repeats, the township, once for the features around it (ST_CoveredBy
    with the feature first is eight times slower here)."""
    features, params, versions = features_of_year(conn, layer, year)
    m = sql.Identifier(measure)
    rows = conn.execute(sql.SQL("""
        WITH f AS ({features})
        SELECT t.xzqdm, f.code,
               sum(CASE WHEN ST_Covers(t.geom, f.geom) THEN {m}(f.geom::geography)
                        ELSE {m}(ST_Intersection(f.geom, t.geom)::geography) END)
        FROM base.xzq t JOIN f ON f.geom && t.geom AND ST_Intersects(t.geom, f.geom)
        WHERE t.xzqjb = '乡' GROUP BY t.xzqdm, f.code""").format(features=features, m=m), params).fetchall()
    return {(t, c): float(v) for t, c, v in rows}, versions


def areas_by_class(conn: psycopg.Connection, layer: Layer, year: int) -> tuple[Measure, dict[str, Any]]:
    """Area (m²) of a layer's features by township and class."""
    return _measured_by_class(conn, layer, year, "st_area")


def lengths_by_class(conn: psycopg.Connection, layer: Layer, year: int) -> tuple[Measure, dict[str, Any]]:
    """Length (m) of a line layer's features by township and class."""
    return _measured_by_class(conn, layer, year, "st_length")


def counts_by_class(conn: psycopg.Connection, layer: Layer, year: int) -> tuple[Measure, dict[str, Any]]:
    """Number of a layer's features by township and class (a feature counts
    where a point on its surface lies, so it counts once)."""
    features, params, versions = features_of_year(conn, layer, year)
    rows = conn.execute(sql.SQL("""
        WITH f AS (SELECT id, code, ST_PointOnSurface(geom) AS geom FROM ({features}) s)
        SELECT t.xzqdm, f.code, count(*) FROM base.xzq t JOIN f ON ST_Intersects(f.geom, t.geom)
        WHERE t.xzqjb = '乡' GROUP BY t.xzqdm, f.code""").format(features=features), params).fetchall()
    return {(t, c): float(v) for t, c, v in rows}, versions


def _like_prefixes(classes: list[str] | None) -> list[str]:
    """LIKE patterns of class code prefixes (none: every code)."""
    return [f"{c}%" for c in classes or ("",)]


def areas_within_distance(conn: psycopg.Connection, year: int, params: dict[str, Any]) -> tuple[
        dict[str, tuple[float, float]], dict[str, Any]]:
    """Township -> (m² of a layer's classes, m² of them within `distance_m`
    of another layer's classes), in one statement. Buffers are drawn in a
    projected CGCS2000 Gauss-Krüger CRS (`crs`, default EPSG:4546, zone CM
    111°E: under 5e-4 scale error across the city), as straight-line
    distance: the data has no street network to walk along (DLZXX holds the
    roads between townships). Areas are taken
    back in EPSG:4490 on the ellipsoid. Nearby features are found through
    the layer's GiST index, by a box grown by the distance in degrees at the
    piece's most poleward latitude."""
    distance = params.get("distance_m")
    if not isinstance(params.get("near"), dict) or not isinstance(distance, int | float) or distance <= 0:
        raise invalid("params", "步行覆盖模型需要 near（图层与地类）和正数 distance_m（米）",
                      "A walking_share model needs near {layer, classes} and a positive distance_m (metres)", 422)
    source, near = _layer(params["layer"]), _layer(params["near"]["layer"])
    features, source_params, versions = features_of_year(conn, source, year)
    near_features, near_params, near_versions = features_of_year(conn, near, year)
    crs, distance = int(params.get("crs", 4546)), float(distance)
    rows = conn.execute(sql.SQL("""
        WITH s AS (SELECT f.geom FROM ({features}) f WHERE f.code LIKE ANY(%s)),
        piece AS (
            SELECT t.xzqdm, CASE WHEN ST_Covers(t.geom, s.geom) THEN s.geom
                                 ELSE ST_CollectionExtract(ST_Intersection(s.geom, t.geom), 3) END AS geom
            FROM base.xzq t JOIN s ON s.geom && t.geom AND ST_Intersects(s.geom, t.geom) WHERE t.xzqjb = '乡'),
        zone AS (
            SELECT p.xzqdm, p.geom, (
                SELECT ST_Union(ST_Buffer(ST_Transform(n.geom, %s), %s)) FROM ({near}) n
                WHERE n.code LIKE ANY(%s) AND n.geom && ST_Expand(p.geom, %s / (110000.0 * cos(radians(
                      greatest(abs(ST_YMin(p.geom)), abs(ST_YMax(p.geom)))))))) AS zone
            FROM piece p)
        SELECT xzqdm, sum(ST_Area(geom::geography)),
               sum(coalesce(ST_Area(ST_Transform(ST_CollectionExtract(
                   ST_Intersection(ST_Transform(geom, %s), zone), 3), 4490)::geography), 0))
        FROM zone GROUP BY xzqdm""").format(features=features, near=near_features),
        [*source_params, _like_prefixes(params.get("classes")), crs, distance, *near_params,
         _like_prefixes(params["near"].get("classes")), distance, crs]).fetchall()
    return {t: (float(total), float(within)) for t, total, within in rows}, {**versions, **near_versions}


def unit_area(conn: psycopg.Connection) -> Result:
    """The unit's own ellipsoidal area (m²)."""
    return Result({code: float(mj) for code, mj in conn.execute("SELECT xzqdm, mj FROM base.xzq")},
                  {"XZQ": "current"})


MEASURES = {"class_area": areas_by_class, "count": counts_by_class, "class_length": lengths_by_class}


AREA_KINDS = ("class_area", "unit_area")
KINDS = (*MEASURES, "unit_area", "ratio", "walking_share", "length_density")


class Evaluator:
    """Computes models for one year, each model once however many
    indicators or ratios use it."""

    def __init__(self, conn: psycopg.Connection, year: int, indicator_values: IndicatorValues,
                 models: dict[str, ModelVersion] | None = None) -> None:
        self.conn, self.year, self.indicator_values = conn, year, indicator_values
        self.models = models if models is not None else active_models(conn)
        self._done: dict[str, Result] = {}
        self._measures: dict[tuple[str, str], tuple[Measure, dict[str, Any]]] = {}
        # every township with its county and city, which its values count for
        self._upward = {t: (t, c, city) for t, c, city in conn.execute(
            "SELECT t.xzqdm, c.xzqdm, c.sjxzqdm FROM base.xzq t JOIN base.xzq c ON c.xzqdm = t.sjxzqdm "
            "WHERE t.xzqjb = '乡'")}

    def model(self, name: str) -> Result:
        if name not in self._done:
            if name not in self.models:
                raise invalid("model", f"模型 {name} 没有启用的版本", f"Model {name} has no active version", 404)
            version = self.models[name]
            if version.kind == "ratio":
                self._done[name] = self._ratio(version.params)
            elif version.kind in MEASURES:
                self._done[name] = self._measured(version.kind, version.params)
            elif version.kind == "unit_area":
                self._done[name] = unit_area(self.conn)
            elif version.kind == "length_density":
                self._done[name] = self._length_density(version.params)
            elif version.kind == "walking_share":
                self._done[name] = self._walking_share(version.params)
            else:
                raise invalid("kind", f"模型 {name} 的类型 {version.kind} 未实现",
                              f"Model {name} is of unknown kind {version.kind}", 422)
        return self._done[name]

    def _measured(self, kind: str, params: dict[str, Any]) -> Result:
        """A layer measured once per kind and year, by township and class;
        a model sums the classes it names (code prefixes; none: all) and
        rolls the townships up to their county and city."""
        layer = _layer(params["layer"])
        if (kind, layer.id) not in self._measures:
            self._measures[kind, layer.id] = MEASURES[kind](self.conn, layer, self.year)
        measure, versions = self._measures[kind, layer.id]
        prefixes = tuple(params.get("classes") or ("",))
        return Result(self._rolled_up((t, v) for (t, code), v in measure.items() if code.startswith(prefixes)),
                      versions)

    def _rolled_up(self, by_township: Iterable[tuple[str, float]]) -> dict[str, float]:
        """Townships' values summed into theirs, their county's and the city's."""
        values = dict.fromkeys({u for units in self._upward.values() for u in units}, 0.0)
        for township, v in by_township:
            for unit in self._upward[township]:
                values[unit] += v
        return values

    def _length_density(self, params: dict[str, Any]) -> Result:
        """km of a line layer's classes per km² of the unit."""
        length, area = self._measured("class_length", params), unit_area(self.conn)
        return Result({u: length.values[u] / a * 1000 for u, a in area.values.items() if a and u in length.values},
                      {**length.data_versions, **area.data_versions})

    def _walking_share(self, params: dict[str, Any]) -> Result:
        """Per cent of a layer's area within a distance of another layer's
        features; a county's or the city's from its townships' areas."""
        areas, versions = areas_within_distance(self.conn, self.year, params)
        total = self._rolled_up((t, a) for t, (a, _) in areas.items())
        within = self._rolled_up((t, w) for t, (_, w) in areas.items())
        return Result({u: within[u] / a * 100 for u, a in total.items() if a}, versions)

    def operand(self, spec: dict[str, str]) -> Result:
        return self.model(spec["model"]) if "model" in spec else self.indicator_values(spec["indicator"])

    def _ratio(self, params: dict[str, Any]) -> Result:
        """numerator / denominator × factor, where both are known and the
        denominator is not zero."""
        top, bottom = self.operand(params["numerator"]), self.operand(params["denominator"])
        factor = float(params.get("factor", 1))
        values = {code: top.values[code] / d * factor for code, d in bottom.values.items()
                  if d and code in top.values}
        return Result(values, {**top.data_versions, **bottom.data_versions})

