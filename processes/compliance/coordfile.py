"""界址点坐标文件: the coordinate text file surveyors deliver.

    [属性描述]
    坐标系=2000国家大地坐标系
    几度分带=3
    带号=37
    [地块坐标]
    5,12.3456,1,某项目用地,面,,工业用地,,@      点数,面积(公顷),地块编号,地块名称,…,@
    J1,1,3158000.000,37512000.000                点号,圈号,X(北),Y(东)

X is the northing and Y the easting, the zone number in front of the
easting when the file says so. Ring 1 is the outer ring, 2 and up holes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from onemap.core.errors import invalid

FIELD = "boundary_text"




@dataclass
class Parcel:
    """One 地块 of the file, its rings as (point name, northing, easting)."""

    number: str
    name: str
    declared_ha: float | None
    use: str
    line: int
    point_count: int
    rings: dict[int, list[tuple[str, float, float]]] = field(default_factory=dict)


def decode(content: bytes) -> str:
    """UTF-8 (with or without BOM) or GBK (read as its superset GB18030)."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError:
        raise invalid(FIELD, "坐标文件编码无法识别：应为 UTF-8 或 GBK", "The coordinate file is neither UTF-8 nor GBK") from None


def looks_like_coordinate_file(text: str) -> bool:
    return "[地块坐标]" in text or bool(re.search(r"^\s*[^,\n]+,\d+,[-\d.]+,[-\d.]+\s*$", text, re.M))


def _number(value: str, line: int, what_zh: str, what_en: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise invalid(FIELD, f"坐标文件第 {line} 行：{what_zh}“{value}”不是数字", f"Coordinate file line {line}: {what_en} '{value}' is not a number") from None


def parse(text: str) -> tuple[dict[str, str], list[Parcel]]:
    """The attributes of [属性描述] and the parcels of [地块坐标]."""
    attributes: dict[str, str] = {}
    parcels: list[Parcel] = []
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section == "属性描述":
            key, _, value = line.partition("=")
            attributes[key.strip()] = value.strip()
            continue
        cells = [c.strip() for c in line.split(",")]
        if cells[-1] == "@":
            parcels.append(Parcel(
                number=cells[2] if len(cells) > 2 and cells[2] else str(len(parcels) + 1),
                name=cells[3] if len(cells) > 3 else "",
                declared_ha=_number(cells[1], number, "面积", "area") if len(cells) > 1 and cells[1] else None,
                use=cells[6] if len(cells) > 6 else "",
                line=number,
                point_count=int(_number(cells[0], number, "点数", "point count")),
            ))
            continue
        if len(cells) != 4:
            raise invalid(FIELD, f"坐标文件第 {number} 行格式错误：应为“点号,圈号,X,Y”或以 @ 结尾的地块行", f"Coordinate file line {number}: expected 'point,ring,X,Y' or a parcel line ending in @")
        if not parcels:
            raise invalid(FIELD, f"坐标文件第 {number} 行：界址点之前缺少地块行（以 @ 结尾）", f"Coordinate file line {number}: a point before any parcel line (ending in @)")
        ring = int(_number(cells[1], number, "圈号", "ring number"))
        northing = _number(cells[2], number, "X 坐标", "X coordinate")
        easting = _number(cells[3], number, "Y 坐标", "Y coordinate")
        parcels[-1].rings.setdefault(ring, []).append((cells[0], northing, easting))
    if not parcels:
        raise invalid(FIELD, "坐标文件中没有地块（[地块坐标] 部分为空）", "The coordinate file holds no parcel ([地块坐标] is empty)")
    return attributes, parcels


def epsg_of(attributes: dict[str, str], parcels: list[Parcel]) -> int | None:
    """The EPSG code the file states: CGCS2000 Gauss-Krüger, 3° or 6° zones,
    with the zone number in the easting or not. None when the file does not
    say (no 带号 and no zone number in the eastings)."""
    datum = attributes.get("坐标系", "")
    if datum and "2000" not in datum:
        raise invalid(FIELD, f"不支持的坐标系“{datum}”：仅支持 2000 国家大地坐标系（CGCS2000）", f"Unsupported coordinate system '{datum}': only CGCS2000 is accepted")
    width = attributes.get("几度分带", "3").strip() or "3"
    if width not in ("3", "6"):
        raise invalid(FIELD, f"几度分带应为 3 或 6，而不是“{width}”", f"Zone width must be 3 or 6, not '{width}'")
    stated = attributes.get("带号", "").strip()
    eastings = [p[2] for parcel in parcels for ring in parcel.rings.values() for p in ring]
    prefixes = {int(e // 1_000_000) for e in eastings}
    if len(prefixes) > 1:
        raise invalid(FIELD, f"Y 坐标带号不一致：{sorted(prefixes)}", f"The eastings carry different zone numbers: {sorted(prefixes)}")
    prefix = prefixes.pop() if prefixes else 0
    zone = int(_number(stated, 0, "带号", "zone")) if stated else (prefix or None)
    if zone is None:
        return None
    if prefix and prefix != zone:
        raise invalid(FIELD, f"带号不符：文件声明带号 {zone}，而 Y 坐标前的带号为 {prefix}", f"Wrong zone: the file states zone {zone} but the eastings carry zone number {prefix}")
    if width == "3":
        if not 25 <= zone <= 45:
            raise invalid(FIELD, f"3 度带带号 {zone} 超出中国范围（25–45）", f"3-degree zone {zone} is outside China (25-45)")
        return (4513 if prefix else 4534) + zone - 25
    if not 13 <= zone <= 23:
        raise invalid(FIELD, f"6 度带带号 {zone} 超出中国范围（13–23）", f"6-degree zone {zone} is outside China (13-23)")
    return (4491 if prefix else 4502) + zone - 13


def rings_of(parcel: Parcel) -> list[list[tuple[float, float]]]:
    """The parcel's rings as (easting, northing) lists, outer ring first;
    every ring must be closed (its last point repeats the first)."""
    if 1 not in parcel.rings:
        raise invalid(FIELD, f"地块 {parcel.number}（第 {parcel.line} 行）没有外圈（圈号 1）", f"Parcel {parcel.number} (line {parcel.line}) has no outer ring (ring 1)")
    rings = []
    for ring_no in sorted(parcel.rings):
        points = parcel.rings[ring_no]
        first, last = points[0], points[-1]
        if len(points) < 4 or (first[1], first[2]) != (last[1], last[2]):
            raise invalid(FIELD, f"地块 {parcel.number} 第 {ring_no} 圈未闭合：末点 {last[0]} 应与首点 {first[0]} 坐标相同"
                      f"（至少 4 个点）", f"Parcel {parcel.number}, ring {ring_no} is not closed: its last point {last[0]} must "
                      f"repeat its first point {first[0]} (at least 4 points)")
        rings.append([(easting, northing) for _, northing, easting in points])
    return rings
