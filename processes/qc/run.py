"""One plan package check from start to end: take the package in, pick the
edition, load it into staging, run every rule, collect findings and
summary, drop the staging schema. `run_qc` is what the process, the
command line and the benchmark call."""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyogrio
from psycopg import sql

from onemap.core.errors import invalid
from processes.base import Progress, quiet
from processes.qc.checks import CHECKS, CheckContext
from processes.qc.package import Package, limits, open_package
from processes.qc.spec import Rule, Spec, default_edition, editions
from processes.qc.staging import Staging


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    layer: str | None
    feature_id: str | None
    message_zh: str
    message_en: str
    geometry: dict[str, Any] | None          # GeoJSON, CRS84 / EPSG:4490 lon-lat
    other_layer: str | None = None
    other_feature_id: str | None = None
    wkb: bytes | None = field(default=None, repr=False)   # for the error layer

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "layer": self.layer,
                "feature_id": self.feature_id, "other_layer": self.other_layer,
                "other_feature_id": self.other_feature_id, "message_zh": self.message_zh,
                "message_en": self.message_en, "geometry": self.geometry}


@dataclass
class QcResult:
    spec: Spec
    package_name: str
    package_sha256: str
    package_kind: str
    layers: list[dict[str, Any]]
    findings: list[Finding]
    counts: dict[str, int]                   # rule id -> findings (all, not just listed)
    seconds: float
    extent_svg: list[str] = field(default_factory=list)   # admin outlines for the report map
    extent_bbox: tuple[float, float, float, float] | None = None

    @property
    def errors(self) -> int:
        return sum(n for rule, n in self.counts.items() if self.spec.rule(rule).severity == "error")

    @property
    def warnings(self) -> int:
        return sum(n for rule, n in self.counts.items() if self.spec.rule(rule).severity == "warning")

    @property
    def passed(self) -> bool:
        """合格: no error (warnings are reported, they do not fail a package)."""
        return self.errors == 0

    @property
    def truncated(self) -> bool:
        return len(self.findings) < sum(self.counts.values())

    def summary(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "verdict_zh": "合格" if self.passed else "不合格",
            "verdict_en": "passed" if self.passed else "failed",
            "errors": self.errors, "warnings": self.warnings,
            "standard": self.spec.standard, "edition": self.spec.edition,
            "standard_title_zh": self.spec.title_zh, "standard_title_en": self.spec.title_en,
            "package": self.package_name, "package_sha256": self.package_sha256,
            "package_kind": self.package_kind, "layers": self.layers,
            "by_rule": [{"rule": r.id, "severity": r.severity, "title_zh": r.title_zh,
                         "title_en": r.title_en, "count": self.counts.get(r.id, 0)} for r in self.spec.rules],
            "by_severity": {"error": self.errors, "warning": self.warnings},
            "findings_listed": len(self.findings), "truncated": self.truncated,
            "seconds": round(self.seconds, 1),
        }


def choose_edition(package: Package, edition: str | None) -> Spec:
    """The caller's edition, else the one the package declares, else the default."""
    specs = editions()
    if not edition:
        base = default_edition()
        declared = package.layer(base.declaration[0]) if base.declaration else None
        if declared is not None:
            edition = _declared_edition(declared.path, declared.layer, base.declaration[1])
    if not edition:
        return default_edition()
    if edition not in specs:
        raise invalid("edition", f"未知的标准版本 {edition}；可用：{'、'.join(sorted(specs))}", f"Unknown edition {edition} of the standard; one of {', '.join(sorted(specs))}", 400, "InvalidParameterValue")
    return specs[edition]


def _declared_edition(path: Path, layer: str, field_name: str) -> str | None:
    try:
        info = pyogrio.read_info(path, layer=layer)
        names = {str(n).upper(): str(n) for n in info["fields"]}
        if field_name not in names:
            return None
        _, _, _, values = pyogrio.raw.read(path, layer=layer, columns=[names[field_name]],
                                           read_geometry=False, max_features=1)
    except pyogrio.errors.DataSourceError:
        return None
    return str(values[0][0]).strip() if len(values[0]) else None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def run_qc(database_url: str, package_file: Path, edition: str | None = None,
           progress: Progress = quiet, workdir: Path | None = None) -> QcResult:
    """Check the package file against the specification; the staging
    schema is gone when this returns or raises."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="onemap-qc-", dir=workdir) as tmp:
        progress(2, "识别数据包 / reading the package")
        package = open_package(package_file, Path(tmp))
        spec = choose_edition(package, edition)
        total = sum(la.features for la in package.layers)
        if total > limits()["max_features"]:
            raise invalid("package", f"数据包要素过多：{total} 个，上限 {limits()['max_features']}", f"The package has too many features: {total}, the limit is {limits()['max_features']}", 413, "PayloadTooLarge")
        staging = Staging.create(database_url)
        try:
            staging.load(package, spec, lambda m: progress(10, m))
            ctx = CheckContext(staging, spec)
            for i, rule in enumerate(spec.rules):
                progress(40 + 55 * i // len(spec.rules), f"检查 {rule.id} {rule.title_zh} / checking {rule.id}")
                CHECKS[rule.check](ctx, rule)
            counts = dict(staging.conn.execute(
                sql.SQL("SELECT rule, count(*) FROM {f} GROUP BY rule").format(f=ctx.findings)).fetchall())
            findings = _listed_findings(ctx, int(limits()["max_findings_listed"]))
            outlines, bbox = _extent_outlines(ctx)
        finally:
            staging.drop()
        layers = [{"name": la.name, "features": la.features, "geometry": la.geometry_type,
                   "crs": f"EPSG:{la.epsg}" if la.epsg else la.crs_text} for la in package.layers]
        return QcResult(spec=spec, package_name=package_file.name, package_sha256=sha256_file(package_file),
                        package_kind=package.kind, layers=layers, findings=findings, counts=counts,
                        seconds=time.monotonic() - started, extent_svg=outlines, extent_bbox=bbox)


class _Values(dict):
    """Message values; a placeholder without a value stays as it is."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _listed_findings(ctx: CheckContext, cap: int) -> list[Finding]:
    order = {rule.id: i for i, rule in enumerate(ctx.spec.rules)}
    rows = ctx.staging.conn.execute(sql.SQL("""
        SELECT rule, layer, feature_id, other_layer, other_id, vals,
               ST_AsGeoJSON(geom, 8)::json, ST_AsBinary(geom)
        FROM {f}
        ORDER BY array_position(%s::text[], rule), layer,
                 CASE WHEN feature_id ~ '^[0-9]+$' THEN feature_id::bigint END, feature_id, seq
        LIMIT %s""").format(f=ctx.findings), (list(order), cap)).fetchall()
    keys = _feature_keys(ctx, rows)
    findings = []
    for rule_id, layer, fid, other_layer, other_id, vals, geojson, wkb in rows:
        rule: Rule = ctx.spec.rule(rule_id)
        values = _Values({k: (f"{v:,.2f}" if isinstance(v, float) else v) for k, v in vals.items()})
        layer_spec = ctx.spec.layer(layer) if layer else None
        values.update(layer=layer or "", feature=_label(fid, keys.get((layer, fid))),
                      other=_label(other_id, keys.get((other_layer, other_id))),
                      other_layer=other_layer or values.get("other_layer", ""))
        values.setdefault("layer_zh", layer_spec.title_zh if layer_spec else "")
        values.setdefault("layer_en", layer_spec.title_en if layer_spec else "")
        # {problem} means problem_zh in the Chinese message, problem_en in the English one
        zh = rule.message_zh.format_map(_Values({**{k[:-3]: v for k, v in values.items() if k.endswith("_zh")},
                                                 **values}))
        en = rule.message_en.format_map(_Values({**{k[:-3]: v for k, v in values.items() if k.endswith("_en")},
                                                 **values}))
        findings.append(Finding(rule=rule_id, severity=rule.severity, layer=layer, feature_id=fid,
                                message_zh=zh, message_en=en, geometry=geojson, other_layer=other_layer,
                                other_feature_id=other_id, wkb=bytes(wkb) if wkb is not None else None))
    return findings


def _label(fid: str | None, key: str | None) -> str:
    if fid is None:
        return ""
    return f"{fid}（{key}）" if key else fid


def _feature_keys(ctx: CheckContext, rows: list[tuple]) -> dict[tuple[str, str], str]:
    """The key field value (BSM, HXBH, ...) of the features named by findings."""
    wanted: dict[str, set[int]] = {}
    for row in rows:
        for layer, fid in ((row[1], row[2]), (row[3], row[4])):
            if layer and fid and fid.isdigit():
                wanted.setdefault(layer, set()).add(int(fid))
    keys = {}
    for name, fids in wanted.items():
        layer = ctx.layer(name)
        col = ctx.column(layer, layer.spec.key) if layer and layer.spec and layer.spec.key else None
        if col is None:
            continue
        for fid, key in ctx.staging.conn.execute(sql.SQL(
                "SELECT fid, {c}::text FROM {t} WHERE fid = ANY(%s)").format(
                c=sql.Identifier(col.name), t=ctx.staging.ident(layer.table)), (sorted(fids),)):
            if key:
                keys[(name, str(fid))] = f"{layer.spec.key}={key}"
    return keys


def _extent_outlines(ctx: CheckContext) -> tuple[list[str], tuple[float, float, float, float] | None]:
    """Simplified admin outlines as SVG path data (ST_AsSVG: y is -latitude)
    and their bbox, for the report's overview map."""
    xzq = ctx.layer("XZQ")
    if xzq is None or not xzq.polygonal:
        return [], None
    g = ctx.staging.ident(xzq.geom_table)
    bbox = ctx.staging.conn.execute(sql.SQL(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM {g} WHERE ok) s"
    ).format(g=g)).fetchone()
    if bbox[0] is None:
        return [], None
    tolerance = max(bbox[2] - bbox[0], bbox[3] - bbox[1]) / 800
    paths = [r[0] for r in ctx.staging.conn.execute(sql.SQL(
        "SELECT ST_AsSVG(ST_SimplifyPreserveTopology(geom, %s), 0, 5) FROM {g} WHERE ok "
        "ORDER BY area DESC").format(g=g), (tolerance,))]
    return paths, tuple(bbox)
