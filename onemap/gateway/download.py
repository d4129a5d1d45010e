"""/download/{layer}.gpkg?bbox=…&datetime=…: the features of a layer in a box
(what the staff application's map shows) as a GeoPackage (成果共享), for
the callers who may read the layer and up to limits.download_max_features
of gateway.yaml."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import tempfile
from pathlib import Path

from flask import Blueprint, Response, g, request
from psycopg import sql

from onemap.core.access import AccessPolicy
from onemap.core.db import connect, connection_parameters, libpq_dsn
from onemap.core.errors import OneMapError, Problem, invalid
from onemap.core.inforce import in_force
from onemap.core.registry import Layer, load_layers
from onemap.core.settings import Settings

DEFAULT_MAX_FEATURES = 50_000


def parse_bbox(text: str | None) -> tuple[float, float, float, float]:
    try:
        box = tuple(float(v) for v in (text or "").split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box) or box[0] >= box[2] or box[1] >= box[3]:
        raise invalid("bbox", "bbox 应为 经度最小,纬度最小,经度最大,纬度最大（CRS84）",
                      "bbox must be minlon,minlat,maxlon,maxlat (CRS84)")
    return box  # type: ignore[return-value]


def parse_instant(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("datetime", "datetime 应为 ISO 8601 时刻", "datetime must be an ISO 8601 instant") from None


def selection(layer: Layer, bbox: tuple[float, ...], at: dt.datetime | None) -> sql.Composed:
    """The layer's features in the box; a versioned layer's valid at `at`
    (default: the plan in force)."""
    where = [sql.SQL("geom && ST_MakeEnvelope({}, {}, {}, {}, 4490)").format(*map(sql.Literal, bbox))]
    if layer.versioned:
        moment = sql.SQL("{}::timestamptz").format(sql.Literal(at.isoformat())) if at else sql.SQL("now()")
        where.append(sql.SQL(in_force("{at}")).format(at=moment))
    return sql.SQL("SELECT * FROM {} WHERE {}").format(sql.Identifier(layer.schema, layer.table_name),
                                                       sql.SQL(" AND ").join(where))


def write_geopackage(database_url: str, layer: Layer, bbox: tuple[float, ...], at: dt.datetime | None,
                     max_features: int, target: Path) -> int:
    """Writes the selection to `target`; refuses more than `max_features`."""
    query = selection(layer, bbox, at)
    with connect(database_url) as conn:
        count = conn.execute(sql.SQL("SELECT count(*) FROM ({}) s").format(query)).fetchone()[0]
        text = query.as_string(conn)
    if count > max_features:
        raise OneMapError(Problem(413, "PayloadTooLarge",
                                  f"范围内有 {count} 个要素，超过下载上限 {max_features}：请缩小地图范围",
                                  f"{count} features in the box, more than the download limit of {max_features}: "
                                  "zoom in", field="bbox"))
    env = {"PGPASSWORD": str(connection_parameters(database_url).get("password", "")), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(["ogr2ogr", "-f", "GPKG", str(target), "PG:" + libpq_dsn(database_url, with_password=False),
                             "-sql", text, "-nln", layer.id, "-nlt", "PROMOTE_TO_MULTI"],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"ogr2ogr {layer.id}: {result.stderr.strip()}")
    return count


def blueprint(settings: Settings, policy: AccessPolicy) -> Blueprint:
    bp = Blueprint("download", __name__)
    layers = {layer.id: layer for layer in load_layers(settings.config_dir / "layers.yaml")}
    max_features = int(settings.gateway["limits"].get("download_max_features", DEFAULT_MAX_FEATURES))

    @bp.get("/download/<layer_id>.gpkg")
    def download(layer_id: str) -> Response:
        layer = layers.get(layer_id)
        if layer is None:
            raise OneMapError(Problem(404, "NotFound", f"没有图层 {layer_id}", f"No layer {layer_id}", field="layer"))
        problem = policy.check_layer(layer_id, g.principal)
        if problem is not None:
            raise OneMapError(problem)
        bbox, at = parse_bbox(request.args.get("bbox")), parse_instant(request.args.get("datetime"))
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / f"{layer_id}.gpkg"
            write_geopackage(settings.database_url, layer, bbox, at, max_features, target)
            body = target.read_bytes()
        return Response(body, content_type="application/geopackage+sqlite3",
                        headers={"Content-Disposition": f'attachment; filename="{layer_id}.gpkg"'})

    return bp
