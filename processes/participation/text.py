"""Citizens' text as it is stored: plain text, checked for length and for
characters no text holds; never interpreted (pages show it with
textContent)."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from onemap.core.errors import invalid

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")


def plain_text(data: dict[str, Any], field: str, zh: str, en: str, max_length: int,
               required: bool = True) -> str | None:
    """data[field] stripped, or None when it is optional and empty."""
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(field, f"请填写{zh}", f"The {en} is required")
        return None
    if not isinstance(value, str):
        raise invalid(field, f"{zh}应为文字", f"The {en} must be text")
    value = value.strip()
    if len(value) > max_length:
        raise invalid(field, f"{zh}过长：{len(value)} 字，不超过 {max_length} 字",
                      f"The {en} is too long: {len(value)} characters, at most {max_length}")
    if _CONTROL.search(value):
        raise invalid(field, f"{zh}含有控制字符", f"The {en} contains control characters")
    return value


def phone(data: dict[str, Any], field: str = "phone") -> str | None:
    value = plain_text(data, field, "联系电话", "phone number", 20, required=False)
    if value is not None and not _PHONE.match(value):
        raise invalid(field, "联系电话应为数字（可含 +、空格和 -）", "A phone number is digits (with +, spaces and -)")
    return value


def point(data: dict[str, Any], required: bool) -> tuple[float, float] | None:
    """(lon, lat) in CGCS2000 degrees from data["lon"], data["lat"]."""
    lon, lat = data.get("lon"), data.get("lat")
    if lon in (None, "") and lat in (None, ""):
        if required:
            raise invalid("location", "请在地图上点选位置", "Pick the location on the map")
        return None
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError) as exc:
        raise invalid("location", "位置应为经度 lon 和纬度 lat 两个数字", "The location is two numbers, lon and lat") from exc
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        raise invalid("location", "位置超出经纬度范围", "The location is outside the range of longitudes and latitudes")
    return x, y


def point_in_city(conn: psycopg.Connection, data: dict[str, Any], required: bool, what_zh: str
                  ) -> tuple[float, float] | None:
    """`point`, refused unless it lies in one of the city's admin units (a
    pin dropped beyond the city is a mistake, or an abuse of a public form)."""
    found = point(data, required)
    if found is not None:
        (inside,) = conn.execute("SELECT EXISTS (SELECT 1 FROM base.xzq WHERE ST_Intersects(geom, "
                                 "ST_SetSRID(ST_MakePoint(%s, %s), 4490)))", found).fetchone()
        if not inside:
            raise invalid("location", f"{what_zh}位置不在本市范围内", "The location is outside the city")
    return found
