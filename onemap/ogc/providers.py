"""pygeoapi providers for the One Map tables.

pygeoapi's PostgreSQL provider is used for everything it does well (table
reflection, property and CQL2 filters through pygeofilter, sorting, paging);
these subclasses change three things:

* geometries are serialised and reprojected in PostGIS (ST_AsGeoJSON,
  ST_Transform) instead of row by row in Python: several times faster;
* output axis order follows the CRS definition (EPSG:4490 is lat/lon,
  EPSG:4546/4525 northing/easting), as OGC API Features Part 2 requires and
  GDAL/QGIS expect;
* versioned plan layers (规划回溯) answer `datetime` with the features valid at
  that instant (valid_from <= t < valid_to), and without `datetime` with the
  plan in force.

The tables store CGCS2000 (EPSG:4490) longitude/latitude. CGCS2000 and WGS84
differ by centimetres, so request coordinates in CRS84 are used as stored
coordinates directly; the provider is therefore declared with storage CRS
CRS84, which keeps pygeoapi's bbox-crs / filter-crs handling in lon/lat.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from http import HTTPStatus
from typing import Any

import psycopg
import pygeofilter.ast
import pygeofilter.values
import pyproj
from geoalchemy2.functions import ST_Intersects, ST_MakeEnvelope
from psycopg_pool import PoolTimeout
from pygeoapi.crs import CrsTransformSpec
from pygeoapi.models.provider.base import TileMatrixSetEnum
from pygeoapi.provider.base import (
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)
from pygeoapi.provider.mvt_postgresql import MVTPostgreSQLProvider
from pygeoapi.provider.sql import PostgreSQLProvider
from pygeoapi.provider.tile import ProviderTileNotFoundError
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.exc import DataError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from onemap.core.errors import DATABASE_DOWN, Problem
from onemap.core.inforce import in_force

LOGGER = logging.getLogger(__name__)
STORAGE_SRID = 4490
GEOJSON_DIGITS = 9  # ~0.1 mm in degrees; projected output is rounded below too


@cache
def output_srid_and_flip(crs_uri: str) -> tuple[int, bool]:
    """SRID to transform to, and whether the CRS's first axis is northing/latitude."""
    crs = pyproj.CRS.from_user_input(crs_uri)
    if crs.to_authority() == ("OGC", "CRS84"):
        return 4326, False
    authority, code = crs.to_authority() or ("EPSG", "4326")
    first_axis = crs.axis_info[0].direction.lower()
    return int(code), first_axis in ("north", "south")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _filter_nodes(node: Any, kind: type) -> list[Any]:
    """Every node of a kind in a parsed CQL2 filter."""
    found = []
    for sub in getattr(node, "get_sub_nodes", lambda: [])() or []:
        found += [sub] if isinstance(sub, kind) else _filter_nodes(sub, kind)
    return found


def backend_unavailable(exc: Exception) -> ProviderConnectionError:
    """A 503 (the gateway adds Retry-After) with a bilingual description."""
    LOGGER.error("database unavailable: %s", exc)
    error = ProviderConnectionError(user_msg=DATABASE_DOWN.to_json().decode("utf-8"))
    error.http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    return error


WEB_MERCATOR_URI = "http://www.opengis.net/def/crs/EPSG/0/3857"
WEB_MERCATOR_BBOX = (-180.0, -85.0511, 180.0, 85.0511)
EARTH_RADIUS_M = 6_378_137.0  # of the Web Mercator sphere


def _web_mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(-85.0511, min(85.0511, lat))
    return (round(math.radians(lon) * EARTH_RADIUS_M, 2),
            round(math.asinh(math.tan(math.radians(lat))) * EARTH_RADIUS_M, 2))


def tile_limits(bbox: list[float], zoom: int) -> dict[str, Any]:
    """The WebMercatorQuad rows and columns of `zoom` that cover a CRS84 bbox."""
    n = 2 ** zoom

    def column(lon: float) -> int:
        return min(n - 1, max(0, math.floor((lon + 180.0) / 360.0 * n)))

    def row(lat: float) -> int:
        lat = max(-85.0511, min(85.0511, lat))
        y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0
        return min(n - 1, max(0, math.floor(y * n)))

    return {"tileMatrix": str(zoom), "minTileRow": row(bbox[3]), "maxTileRow": row(bbox[1]),
            "minTileCol": column(bbox[0]), "maxTileCol": column(bbox[2])}


def _json_schema_type(sql_type: Any) -> dict[str, str]:
    """The JSON Schema type of a column, for a tileset's propertiesSchema."""
    python_type = None
    try:
        python_type = sql_type.python_type
    except NotImplementedError:
        pass
    if python_type is bool:
        return {"type": "boolean"}
    if python_type is int:
        return {"type": "integer"}
    if python_type in (float, Decimal):
        return {"type": "number"}
    if python_type in (date, datetime):
        return {"type": "string", "format": "date-time" if python_type is datetime else "date"}
    return {"type": "string"}


def database_faults_as_503(method: Callable) -> Callable:
    """A database that is down or restarting is a fault of ours, for a
    while: 503, never a 4xx that tells the client its request is wrong."""
    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (OperationalError, InterfaceError, psycopg.OperationalError, PoolTimeout) as exc:
            raise backend_unavailable(exc) from exc  # SQLAlchemy's, and psycopg's of our own pools
    return run


def _invalid_filter(zh: str, en: str) -> ProviderInvalidQueryError:
    """A 400 whose description is the bilingual Problem itself (the
    gateway passes such a description on as the body)."""
    return ProviderInvalidQueryError(user_msg=Problem(400, "InvalidParameterValue", zh, en, field="filter")
                                     .to_json().decode("utf-8"))


def _set_filter_srid(node: Any) -> None:
    """Filter geometries arrive in CRS84 (see module docstring); state them
    as EPSG:4490 so PostGIS compares them with the stored geometries."""
    for sub in getattr(node, "get_sub_nodes", lambda: [])() or []:
        if isinstance(sub, pygeofilter.values.Geometry):
            sub.geometry["crs"] = {"properties": {"name": f"urn:ogc:def:crs:EPSG::{STORAGE_SRID}"}}
        else:
            _set_filter_srid(sub)


class OneMapFeatureProvider(PostgreSQLProvider):
    """Features of a One Map table, geometry and CRS handled in PostGIS."""

    def __init__(self, provider_def: dict) -> None:
        try:
            super().__init__(provider_def)
        except ProviderConnectionError as exc:  # pygeoapi's: the table could not be read
            raise backend_unavailable(exc) from exc
        self.versioned = bool(provider_def.get("versioned", False))

    # --- filters -----------------------------------------------------------
    def _get_bbox_filter(self, bbox: list[float]):  # noqa: ANN201 - SQLAlchemy clause
        if not bbox:
            return True
        # a 3D bbox is minx, miny, minz, maxx, maxy, maxz
        minx, miny, maxx, maxy = bbox if len(bbox) == 4 else (bbox[0], bbox[1], bbox[3], bbox[4])
        envelope = ST_MakeEnvelope(minx, miny, maxx, maxy, STORAGE_SRID)
        return ST_Intersects(envelope, getattr(self.table_model, self.geom))

    def _get_cql_filters(self, filterq: pygeofilter.ast.Node | None):  # noqa: ANN201
        if filterq:
            # no function is offered (Basic CQL2): refused by name, never run
            functions = sorted({f.name for f in _filter_nodes(filterq, pygeofilter.ast.Function)})
            if functions:
                raise _invalid_filter(f"过滤条件使用了不支持的函数：{', '.join(functions)}（本服务不提供 CQL2 函数）",
                                      f"Invalid filter: unsupported function {', '.join(functions)} "
                                      "(this service offers no CQL2 functions)")
            # pygeofilter matches no rows on an unknown property; say so instead
            columns = set(self.table_model.__table__.columns.keys())
            unknown = sorted({a.name for a in _filter_nodes(filterq, pygeofilter.ast.Attribute)} - columns)
            if unknown:
                raise _invalid_filter(f"过滤条件中的属性不存在：{', '.join(unknown)}",
                                      f"Invalid filter: unknown property {', '.join(unknown)}")
            _set_filter_srid(filterq)
        return super()._get_cql_filters(filterq)

    def _get_datetime_filter(self, datetime_: str | None):  # noqa: ANN201
        if not self.versioned:
            return super()._get_datetime_filter(datetime_)
        valid_from = self.table_model.valid_from
        valid_to = self.table_model.valid_to
        if datetime_ in (None, "../.."):
            return text(in_force())  # the plan in force now
        if "/" in datetime_:
            begin, end = datetime_.split("/")
            clauses = []
            if end != "..":
                clauses.append(valid_from <= end)
            if begin != "..":
                clauses.append(or_(valid_to.is_(None), valid_to > begin))
            return and_(*clauses)
        return and_(valid_from <= datetime_, or_(valid_to.is_(None), valid_to > datetime_))

    # --- geometry in SQL ---------------------------------------------------
    def _geometry_column(self, crs_transform_spec: CrsTransformSpec | None):  # noqa: ANN201
        geom = getattr(self.table_model, self.geom)
        digits = GEOJSON_DIGITS
        if crs_transform_spec is not None:
            srid, flip = output_srid_and_flip(crs_transform_spec.target_crs_uri)
            if srid != STORAGE_SRID:
                geom = func.ST_Transform(geom, srid)
                if not pyproj.CRS.from_epsg(srid).is_geographic:
                    digits = 3  # millimetres
            if flip:
                geom = func.ST_FlipCoordinates(geom)
        return func.ST_AsGeoJSON(geom, digits, 0).label("__geojson")  # 0: no "crs" member

    def _columns(self, select_properties: list[str] | None) -> list:
        names = [n for n in (select_properties or self.fields.keys()) if n in self.fields]
        if self.properties:
            names = [n for n in names if n in self.properties]
        id_col = getattr(self.table_model, self.id_field)
        cols = [getattr(self.table_model, n) for n in names if n != self.id_field]
        return [id_col.label("__id"), *cols]

    def _feature(self, row: Any, skip_geometry: bool) -> dict:
        mapping = row._mapping
        props = {k: _json_value(v) for k, v in mapping.items() if not k.startswith("__")}
        geometry = None if skip_geometry or mapping.get("__geojson") is None else json.loads(mapping["__geojson"])
        return {"type": "Feature", "id": mapping["__id"], "geometry": geometry, "properties": props}

    @database_faults_as_503
    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results",
              bbox: list | None = None, datetime_: str | None = None, properties: list | None = None,
              sortby: list | None = None, select_properties: list | None = None,
              skip_geometry: bool = False, q: str | None = None, filterq: Any = None,
              crs_transform_spec: CrsTransformSpec | None = None, **kwargs: Any) -> dict:
        where = and_(
            self._get_property_filters(properties or []),
            self._get_cql_filters(filterq),
            self._get_bbox_filter(bbox or []),
            self._get_datetime_filter(datetime_),
        )
        response: dict[str, Any] = {"type": "FeatureCollection", "features": [], "numberReturned": 0}
        with Session(self._engine) as session:
            if self.count or resulttype == "hits":
                count = select(func.count()).select_from(self.table_model).where(where)
                try:
                    response["numberMatched"] = session.execute(count).scalar_one()
                except (DataError, ProgrammingError) as exc:  # a filter PostGIS rejects (bad type, ...)
                    raise _invalid_filter(f"过滤条件无法执行（{exc.orig.__class__.__name__}）",
                                          f"Invalid filter: {exc.orig.__class__.__name__}") from exc
            if resulttype == "hits":
                return response
            columns = self._columns(select_properties)
            if not skip_geometry:
                columns.append(self._geometry_column(crs_transform_spec))
            stmt = (select(*columns).where(where)
                    .order_by(*self._get_order_by_clauses(sortby or [], self.table_model))
                    .offset(offset).limit(limit))
            rows = session.execute(stmt).all()
        response["features"] = [self._feature(r, skip_geometry) for r in rows]
        response["numberReturned"] = len(rows)
        return response

    @database_faults_as_503
    def get(self, identifier: Any, crs_transform_spec: CrsTransformSpec | None = None,
            **kwargs: Any) -> dict:
        id_col = getattr(self.table_model, self.id_field)
        try:
            key = id_col.type.python_type(identifier)
        except (TypeError, ValueError):
            raise ProviderItemNotFoundError(user_msg=f"No such item: {identifier}") from None
        stmt = select(*self._columns(None), self._geometry_column(crs_transform_spec)).where(id_col == key)
        neighbours = (
            select(select(func.max(id_col)).where(id_col < key).scalar_subquery().label("prev"),
                   select(func.min(id_col)).where(id_col > key).scalar_subquery().label("next"))
        )
        with Session(self._engine) as session:
            row = session.execute(stmt).first()
            if row is None:
                raise ProviderItemNotFoundError(user_msg=f"No such item: {identifier}")
            prev_id, next_id = session.execute(neighbours).one()
        feature = self._feature(row, False)
        feature["prev"] = identifier if prev_id is None else prev_id
        feature["next"] = identifier if next_id is None else next_id
        return feature


def simplify_tolerance(z: int, y: int) -> float:
    """A quarter of a tile unit (1/4096 of a WebMercatorQuad tile) in
    degrees at the tile's most poleward edge, where a unit is shortest in
    degrees of latitude (longitude: 360 / 2^z / 4096 everywhere)."""
    edge = y if y < 2 ** (z - 1) else y + 1  # the row's northern edge in the north, southern in the south
    latitude = math.atan(math.sinh(math.pi * (1 - 2 * edge / 2 ** z)))
    return 360.0 / 2 ** z / 4096 * math.cos(latitude) / 4


def tile_statement(schema: str, table: str, columns: str, current: str = "") -> str:
    """The one statement of a vector tile (:z, :x, :y, :layer, :tolerance).

    Geometries are simplified within a quarter of a tile unit before they
    are projected and clipped: at the city's zoom levels an admin unit or a
    choropleth of indicators has thousands of vertices a unit, which
    ST_AsMVTGeom would transform and snap only to drop (a z7 tile of the
    indicator maps: seconds, not a tenth of one). The subquery is fenced
    (OFFSET 0): flattened, the planner pushes `geom IS NOT NULL` down into
    the index scan and computes ST_AsMVTGeom twice a row, once for the filter
    and once for the tile (a z12 DLTB tile at city scale: twice the time)."""
    return ("WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env, "
            "ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 256.0 / 4096), 4490) AS geo) "
            "SELECT ST_AsMVT(t, :layer) FROM (SELECT "
            "ST_AsMVTGeom(ST_Transform(ST_Simplify(geom, :tolerance, true), 3857), b.env, 4096, 256) AS geom, "
            f'{columns} FROM "{schema}"."{table}", b WHERE geom && b.geo AND ST_Intersects(geom, b.geo){current} '
            "OFFSET 0) t WHERE t.geom IS NOT NULL")


class OneMapTileProvider(MVTPostgreSQLProvider):
    """Mapbox vector tiles (WebMercatorQuad) from PostGIS in one SQL
    statement: the tile envelope is transformed once and the GiST index
    selects the rows (pygeoapi's own query transforms per row); rows in the
    256-unit buffer are included, as ST_AsMVTGeom clips them. Versioned plan
    layers show the plan in force."""

    def __init__(self, provider_def: dict) -> None:
        try:
            super().__init__(provider_def)
        except ProviderConnectionError as exc:  # pygeoapi's: the table could not be read
            raise backend_unavailable(exc) from exc
        self.versioned = bool(provider_def.get("versioned", False))
        self.data_bbox = provider_def.get("data_bbox")
        columns = ", ".join(f'"{name}"' for name in self.get_fields())
        current = f" AND {in_force()}" if self.versioned else ""
        self._sql = text(tile_statement(self.db_search_path[0], self.table, columns, current))

    def get_tiling_schemes(self) -> list:
        return [TileMatrixSetEnum.WEBMERCATORQUAD.value]

    # --- a tileset that describes itself (GDAL, QGIS, MapLibre open it
    # without sampling tiles at random): extent, limits per zoom, fields.
    def _zooms(self) -> range:
        zoom = (self.options or {}).get("zoom") or {}
        return range(int(zoom.get("min", 0)), int(zoom.get("max", 20)) + 1)

    def _bbox(self) -> list[float]:
        return list(self.data_bbox or WEB_MERCATOR_BBOX)

    def _properties_schema(self) -> dict[str, Any]:
        columns = self.table_model.__table__.columns
        return {"type": "object", "properties": {
            str(c.name): _json_schema_type(c.type) for c in columns if c.name != self.geom}}

    def get_default_metadata(self, dataset: str, server_url: str, layer: str, tileset: str, title: Any,
                             description: Any, keywords: Any, **kwargs: Any) -> dict:
        content = super().get_default_metadata(dataset, server_url, layer, tileset, title, description,
                                                keywords, **kwargs)
        bbox, zooms = self._bbox(), self._zooms()
        # in the tile matrix set's CRS, as clients (GDAL) read it
        minx, miny = _web_mercator(bbox[0], bbox[1])
        maxx, maxy = _web_mercator(bbox[2], bbox[3])
        box = {"lowerLeft": [minx, miny], "upperRight": [maxx, maxy], "crs": WEB_MERCATOR_URI}
        content["boundingBox"] = box
        content["tileMatrixSetLimits"] = [tile_limits(bbox, z) for z in zooms]
        content["layers"] = [{"id": layer, "dataType": "vector", "geometryDimension": self._dimension(),
                              "boundingBox": box, "minTileMatrix": str(zooms[0]), "maxTileMatrix": str(zooms[-1]),
                              "propertiesSchema": self._properties_schema()}]
        return content

    def get_vendor_metadata(self, dataset: str, server_url: str, layer: str, tileset: str, title: Any,
                            description: Any, keywords: Any, **kwargs: Any) -> dict:
        """TileJSON 3.0.0."""
        zooms = self._zooms()
        fields = {name: spec.get("type", "string") for name, spec in self._properties_schema()["properties"].items()}
        return {"tilejson": "3.0.0", "name": dataset, "description": description,
                "tiles": [f"{server_url}/collections/{dataset}/tiles/{tileset}/{{z}}/{{y}}/{{x}}?f=mvt"],
                "bounds": self._bbox(), "minzoom": zooms[0], "maxzoom": zooms[-1],
                "vector_layers": [{"id": layer, "fields": fields, "minzoom": zooms[0], "maxzoom": zooms[-1]}]}

    def _dimension(self) -> int:
        kind = str(getattr(self.table_model.__table__.columns[self.geom].type, "geometry_type", "")).upper()
        return {"POINT": 0, "MULTIPOINT": 0, "LINESTRING": 1, "MULTILINESTRING": 1}.get(kind, 2)

    @database_faults_as_503
    def get_tiles(self, layer: str = "default", tileset: str | None = None, z: Any = None,
                  y: Any = None, x: Any = None, format_: str | None = None) -> bytes | None:
        schemes = [s.tileMatrixSet for s in self.get_tiling_schemes()]
        if tileset not in schemes:
            raise ProviderInvalidQueryError(
                user_msg=f"Unknown tile matrix set {tileset}: one of {', '.join(schemes)}")
        try:
            z, y, x = int(z), int(y), int(x)
        except (TypeError, ValueError):
            raise ProviderInvalidQueryError(user_msg="Tile matrix, row and column must be integers") from None
        if not (0 <= z <= 24 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
            raise ProviderTileNotFoundError
        with Session(self._engine) as session:
            tile = session.execute(self._sql, {"z": z, "x": x, "y": y, "layer": self.get_layer(),
                                               "tolerance": simplify_tolerance(z, y)}).scalar()
        return bytes(tile) or None
