"""The project boundary (项目用地范围) from what users have: GeoJSON, WKT,
the coordinate text file, a zipped shapefile or a GeoPackage; checked, and
repaired only where the repair is unambiguous.

Everything here is planar geometry in the CRS the input came in; the result
is a MultiPolygon in EPSG:4490 (CGCS2000 lon/lat). Ellipsoidal areas and the
city's extent are checked in PostGIS (check.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pyproj
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from onemap.core.errors import OneMapError, invalid
from onemap.core.registry import Text
from processes.compliance import coordfile

STORAGE_EPSG = 4490
GEOGRAPHIC = {4490, 4326}
# CGCS2000 Gauss-Krüger: 6° zones 13-23 with / without the zone number in the
# easting (4491-4512), 3° zones 25-45 likewise (4513-4554).
PROJECTED = range(4491, 4555)


@dataclass
class Boundary:
    """A checked boundary: `geometry` in EPSG:4490, with where it came from."""

    geometry: MultiPolygon
    source_format: str
    source_epsg: int
    parcels: list[dict[str, Any]]
    notes: list[Text] = field(default_factory=list)  # repairs and remarks, for the report


@dataclass
class _Part:
    label: Text               # how the user names it: 地块 1, 第 3 个要素 …
    polygon: Polygon
    info: dict[str, Any] = field(default_factory=dict)


def parse_crs(value: Any, field_name: str = "crs") -> int:
    """EPSG code of a `crs` input: EPSG:4546, a URI or URN, CRS84."""
    text = str(value).strip()
    if re.search(r"CRS84$", text, re.I):
        return 4326
    match = re.search(r"(?:EPSG)?[:/]+(?:0/|:)?(\d{4,5})$", text, re.I) or re.fullmatch(r"(\d{4,5})", text)
    code = int(match.group(1)) if match else None
    if code is None or not (code in GEOGRAPHIC or code in PROJECTED):
        raise invalid(field_name, f"不支持的坐标参考系“{text}”：可用 CRS84、EPSG:4490 及 CGCS2000 高斯-克吕格投影（EPSG:4491–4554，"
                  f"如 EPSG:4546、EPSG:4525）", f"Unsupported CRS '{text}': use CRS84, EPSG:4490 or a CGCS2000 Gauss-Kruger CRS "
                  f"(EPSG:4491-4554, e.g. EPSG:4546, EPSG:4525)")
    return code


# --- readers: input → parts in the source CRS ---------------------------------

WHOLE = Text("项目用地范围", "The boundary")


def _feature_label(i: int) -> Text:
    return Text(f"第 {i} 个要素", f"Feature {i}")


def _polygons(geom: Any, label: Text, field_name: str) -> list[Polygon]:
    if geom is None or geom.is_empty:
        raise invalid(field_name, f"{label.zh}的几何为空", f"{label.en}: the geometry is empty")
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    raise invalid(field_name, f"{label.zh}不是面（{geom.geom_type}）：项目用地范围必须是面或多面", f"{label.en} is not polygonal ({geom.geom_type}): a project boundary must be a Polygon or MultiPolygon")


def _check_closed(coordinates: Any, label: Text, field_name: str) -> None:
    for ring in coordinates:
        if len(ring) < 4 or list(ring[0])[:2] != list(ring[-1])[:2]:
            raise invalid(field_name, f"{label.zh}的环未闭合：首点与末点应相同（至少 4 个点）", f"{label.en}: a ring is not closed; its last position must repeat its first (at least 4)")


def _geojson_geometry(obj: dict, label: Text, field_name: str) -> Any:
    kind = obj.get("type")
    coords = obj.get("coordinates")
    if kind == "Polygon" and isinstance(coords, list):
        _check_closed(coords, label, field_name)
    elif kind == "MultiPolygon" and isinstance(coords, list):
        for polygon in coords:
            _check_closed(polygon, label, field_name)
    try:
        return shape(obj)
    except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException) as exc:
        raise invalid(field_name, f"{label.zh}不是有效的 GeoJSON 几何：{exc}", f"{label.en} is not a valid GeoJSON geometry: {exc}") from None


def read_geojson(value: Any, field_name: str = "boundary") -> tuple[list[_Part], int | None]:
    """Parts of a GeoJSON geometry, Feature or FeatureCollection, and the EPSG
    code of a legacy `crs` member when there is one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise invalid(field_name, f"boundary 不是有效的 JSON：{exc}", f"boundary is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or "type" not in value:
        raise invalid(field_name, "boundary 应为 GeoJSON 几何、Feature 或 FeatureCollection", "boundary must be a GeoJSON geometry, Feature or FeatureCollection")
    legacy = (value.get("crs") or {}).get("properties", {}).get("name")
    epsg = parse_crs(legacy, field_name) if legacy else None
    if value["type"] == "FeatureCollection":
        features = value.get("features") or []
    elif value["type"] == "Feature":
        features = [value]
    else:
        features = [{"type": "Feature", "geometry": value, "properties": {}}]
    if not features:
        raise invalid(field_name, "FeatureCollection 中没有要素", "The FeatureCollection has no features")
    parts = []
    for i, feature in enumerate(features, start=1):
        label = _feature_label(i) if len(features) > 1 else WHOLE
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict):
            raise invalid(field_name, f"{label.zh}的几何为空", f"{label.en}: the geometry is empty")
        geom = _geojson_geometry(geometry, label, field_name)
        props = feature.get("properties") or {}
        for polygon in _polygons(geom, label, field_name):
            parts.append(_Part(label, polygon, {"name": props.get("name") or props.get("地块名称") or ""}))
    return parts, epsg


def read_wkt(text: str, field_name: str = "boundary_text") -> tuple[list[_Part], int | None]:
    """Parts of a WKT (or EWKT: `SRID=4546;POLYGON(…)`) geometry."""
    epsg = None
    match = re.match(r"^\s*SRID=(\d+);(.*)$", text, re.S | re.I)
    if match:
        epsg, text = parse_crs(match.group(1), field_name), match.group(2)
    try:
        geom = shapely.from_wkt(text.strip())
    except shapely.errors.GEOSException as exc:
        raise invalid(field_name, f"WKT 无法解析：{exc}", f"The WKT cannot be parsed: {exc}") from None
    return [_Part(WHOLE, p) for p in _polygons(geom, WHOLE, field_name)], epsg


def read_coordinate_file(text: str) -> tuple[list[_Part], int | None, list[Text]]:
    attributes, parcels = coordfile.parse(text)
    epsg = coordfile.epsg_of(attributes, parcels)
    parts, notes = [], []
    for parcel in parcels:
        rings = coordfile.rings_of(parcel)
        points = sum(len(r) for r in parcel.rings.values())
        if parcel.point_count != points:
            notes.append(Text(f"地块 {parcel.number} 声明点数 {parcel.point_count}，实际 {points} 个点",
                              f"Parcel {parcel.number} states {parcel.point_count} points but lists {points}"))
        parts.append(_Part(Text(f"地块 {parcel.number}", f"Parcel {parcel.number}"), Polygon(rings[0], rings[1:]),
                           {"number": parcel.number, "name": parcel.name, "use": parcel.use,
                            "declared_ha": parcel.declared_ha}))
    return parts, epsg, notes


def read_text(text: str) -> tuple[str, list[_Part], int | None, list[Text]]:
    """boundary_text: a coordinate file, WKT or GeoJSON text."""
    stripped = text.strip()
    if not stripped:
        raise invalid("boundary_text", "boundary_text 为空", "boundary_text is empty")
    if coordfile.looks_like_coordinate_file(stripped):
        return ("界址点坐标文件", *read_coordinate_file(stripped))
    if stripped.startswith("{"):
        parts, epsg = read_geojson(stripped, "boundary_text")
        return "GeoJSON", parts, epsg, []
    return ("WKT", *read_wkt(stripped), [])


def read_file(content: bytes, filename: str) -> tuple[str, list[_Part], int | None, list[Text]]:
    """A zipped shapefile or a GeoPackage with one polygon layer (or a text
    file: coordinate file, WKT, GeoJSON)."""
    from pyogrio import list_layers, raw

    if content.startswith(b"PK\x03\x04"):
        kind = "Shapefile (zip)"
    elif content.startswith(b"SQLite format 3\x00"):
        kind = "GeoPackage"
    else:
        return read_text(coordfile.decode(content))
    try:
        layers = [(str(name), str(gtype or "")) for name, gtype in list_layers(content)]
        polygonal = [name for name, gtype in layers if "polygon" in gtype.lower()]
        if len(polygonal) != 1:
            raise invalid("boundary_file", f"{kind} 应恰好含一个面图层，而它含：{', '.join(f'{n} ({g})' for n, g in layers) or '无'}", f"The {kind} must hold exactly one polygon layer; it holds: "
                      f"{', '.join(f'{n} ({g})' for n, g in layers) or 'none'}")
        meta, _, wkbs, values = raw.read(content, layer=polygonal[0])
    except OneMapError:
        raise
    except Exception as exc:  # GDAL's errors come in many classes; all mean an unreadable file
        raise invalid("boundary_file", f"无法读取 {kind} 文件 {filename}：{exc}", f"Cannot read the {kind} file {filename}: {exc}") from None
    epsg = pyproj.CRS.from_user_input(meta["crs"]).to_epsg() if meta.get("crs") else None
    if meta.get("crs") and epsg is None:
        raise invalid("boundary_file", f"无法识别 {filename} 的坐标参考系", f"The CRS of {filename} is not an EPSG CRS")
    names = list(meta["fields"])
    parts = []
    for i, wkb in enumerate(wkbs, start=1):
        geom = shapely.from_wkb(wkb) if wkb is not None else None
        label = _feature_label(i)
        attrs = {name: values[j][i - 1] for j, name in enumerate(names)}
        for polygon in _polygons(geom, label, "boundary_file"):
            parts.append(_Part(label, shapely.force_2d(polygon), {"name": str(attrs.get("name") or "")}))
    if not parts:
        raise invalid("boundary_file", f"{filename} 的面图层中没有要素", f"The polygon layer of {filename} has no features")
    return kind, parts, epsg, []


# --- checks and unambiguous repairs -----------------------------------------

def _ring_area(coords: Any) -> float:
    return abs(shapely.area(Polygon(coords))) if len(coords) >= 4 else 0.0


def _intended_area(polygon: Polygon) -> float:
    """The area the rings describe, read as shell minus holes."""
    return _ring_area(polygon.exterior.coords) - sum(_ring_area(r.coords) for r in polygon.interiors)


def repair(part: _Part, field_name: str) -> tuple[Polygon | MultiPolygon, Text | None]:
    """The part, valid and of non-zero area. An invalid ring is repaired only
    when the repair keeps the area its rings describe (spikes, collapsed
    edges, repeated points); otherwise (a self-intersecting figure-of-eight,
    a hole outside its shell) which area was meant is ambiguous and the input
    is refused."""
    polygon, label = part.polygon, part.label
    if polygon.is_valid:
        if polygon.area == 0:
            raise invalid(field_name, f"{label.zh}面积为零", f"{label.en}: the area is zero")
        return polygon, None
    reason = shapely.is_valid_reason(polygon)
    fixed = shapely.make_valid(polygon)
    polys = [g for g in getattr(fixed, "geoms", [fixed]) if isinstance(g, Polygon | MultiPolygon)]
    repaired = shapely.union_all(polys) if polys else None
    if repaired is None or repaired.area == 0:
        raise invalid(field_name, f"{label.zh}面积为零（{reason}）", f"{label.en}: the area is zero ({reason})")
    intended = _intended_area(polygon)
    if abs(repaired.area - intended) <= 1e-9 * repaired.area:
        return repaired, Text(f"{label.zh}几何无效（{reason}），已无歧义地修复，面积不变",
                              f"{label.en}: invalid geometry ({reason}) repaired unambiguously, area unchanged")
    where = re.search(r"\[([-\d.eE+]+) ([-\d.eE+]+)\]", reason)
    at_zh = f"，位置 ({where.group(1)}, {where.group(2)})" if where else ""
    at_en = f" at ({where.group(1)}, {where.group(2)})" if where else ""
    kind_zh, kind_en = (("边界自相交", "the boundary intersects itself") if "Self-intersection" in reason
                        else ("几何无效", "invalid geometry"))
    raise invalid(field_name, f"{label.zh}{kind_zh}{at_zh}（{reason}）：无法无歧义地修复，请检查界址点顺序", f"{label.en}: {kind_en}{at_en} ({reason}); it cannot be repaired unambiguously - check the "
              f"order of the boundary points")


@cache
def _to_storage(epsg: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(epsg, STORAGE_EPSG, always_xy=True)


def _check_coordinates(geom: Any, epsg: int, field_name: str) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if epsg in GEOGRAPHIC:
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise invalid(field_name, f"坐标 ({minx:.3f}, {miny:.3f}) 超出经纬度范围：投影坐标请用 crs 指定坐标系（如 EPSG:4546）", f"Coordinates ({minx:.3f}, {miny:.3f}) are not longitude/latitude: give the CRS of projected "
                      f"coordinates in `crs` (e.g. EPSG:4546)")
        return
    crs = pyproj.CRS.from_epsg(epsg)
    false_easting = next((p.value for p in crs.coordinate_operation.params if p.name == "False easting"), 500000)
    zone = int(false_easting // 1_000_000)
    prefixes = {int(minx // 1_000_000), int(maxx // 1_000_000)}
    if prefixes != {zone}:
        got = "、".join(str(p) for p in sorted(prefixes))
        raise invalid(field_name, f"带号不符：{crs.name} 的东坐标应以带号 {zone} 开头（不带带号时为 0），而输入东坐标的带号为 {got}", f"Wrong zone: eastings in {crs.name} start with zone number {zone} (0 when it carries none), "
                  f"but the input's start with {got}")


def build(parts: list[_Part], epsg: int, source_format: str, notes: list[Text], field_name: str,
          max_parcels: int) -> Boundary:
    """Repair what is unambiguous, merge the parts, transform to EPSG:4490."""
    if len(parts) > max_parcels:
        raise invalid(field_name, f"地块过多：{len(parts)} 个，上限 {max_parcels}", f"Too many parcels: {len(parts)}, the limit is "
                  f"{max_parcels}", 413)
    notes = list(notes)
    polygons = []
    for part in parts:
        polygon, note = repair(part, field_name)
        if note:
            notes.append(note)
        polygons.append(polygon)
    merged = shapely.union_all(polygons)
    total = sum(p.area for p in polygons)
    if total - merged.area > 1e-9 * total:
        notes.append(Text(f"地块之间有重叠（约 {(1 - merged.area / total) * 100:.3f}%），已合并计算",
                          f"Parcels overlap (about {(1 - merged.area / total) * 100:.3f}%); they are merged"))
    _check_coordinates(merged, epsg, field_name)
    geometry = merged if epsg == STORAGE_EPSG else shapely.transform(merged, _to_storage(epsg).transform, interleaved=False)
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon([geometry])
    parcels = [{"label": p.label.zh, **{k: v for k, v in p.info.items() if v not in (None, "")}} for p in parts]
    return Boundary(geometry=geometry, source_format=source_format, source_epsg=epsg, parcels=parcels, notes=notes)


def _qualified_bytes(value: Any, field_name: str) -> tuple[bytes, str]:
    """Bytes and file name of an OGC qualified value {value, encoding: base64}."""
    if not isinstance(value, dict) or "value" not in value:
        raise invalid(field_name, f"{field_name} 应为 {{value, encoding: base64, filename}}", f"{field_name} must be a qualified value {{value, encoding: base64, filename}}")
    if str(value.get("encoding", "")).lower() != "base64":
        return str(value["value"]).encode("utf-8"), str(value.get("filename") or field_name)
    try:
        return base64.b64decode(value["value"], validate=True), str(value.get("filename") or field_name)
    except (binascii.Error, ValueError):
        raise invalid(field_name, f"{field_name} 不是有效的 base64", f"{field_name} is not valid base64") from None


def from_inputs(inputs: dict[str, Any], max_parcels: int) -> Boundary:
    """The boundary from the process inputs: exactly one of `boundary`
    (GeoJSON), `boundary_text` (coordinate file, WKT or GeoJSON text; a base64
    qualified value for GBK bytes) or `boundary_file` (uploaded file); `crs`
    when neither the input nor the file states it."""
    given = [name for name in ("boundary", "boundary_text", "boundary_file") if inputs.get(name) not in (None, "")]
    if len(given) != 1:
        raise invalid("boundary" if not given else given[1], "请提供且仅提供一个项目用地范围：boundary（GeoJSON）、boundary_text（坐标文件、WKT）或 boundary_file（文件）", "Give exactly one project boundary: boundary (GeoJSON), boundary_text (coordinate file, WKT) "
                  "or boundary_file (an uploaded file)")
    name = given[0]
    value = inputs[name]
    if name == "boundary":
        parts, stated = read_geojson(value)
        source_format, notes = "GeoJSON", []
    elif name == "boundary_text":
        text = coordfile.decode(_qualified_bytes(value, name)[0]) if isinstance(value, dict) else str(value)
        source_format, parts, stated, notes = read_text(text)
    else:
        source_format, parts, stated, notes = read_file(*_qualified_bytes(value, name))
    requested = parse_crs(inputs["crs"]) if inputs.get("crs") not in (None, "") else None
    if stated is None and requested is None and source_format == "界址点坐标文件":
        raise invalid("crs", "坐标文件未说明带号，东坐标也不含带号：请用 crs 指定坐标系（如 EPSG:4546）", "The coordinate file states no zone and its eastings carry none: give the CRS in `crs` "
                  "(e.g. EPSG:4546)")
    epsg = stated or requested or 4326  # GeoJSON and WKT default to CRS84
    return build(parts, epsg, source_format, notes, name, max_parcels)
