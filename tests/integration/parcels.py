"""A parcel of a land-use layer and the colour its style gives it, for the
tests that read the pixels of a map (WMS, WMTS, the web viewer)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image

from onemap.styles.model import load_style, rgb

TOLERANCE = 6  # per RGB channel
TILE_SIZE_M_AT_ZOOM_0 = 2 * math.pi * 6_378_137


@dataclass(frozen=True)
class Parcel:
    """A parcel in force and the centre of its largest inscribed circle: a
    point well inside it, far from outlines and neighbours."""

    layer_id: str
    code: str
    lon: float
    lat: float
    radius_deg: float

    @property
    def color(self) -> tuple[int, int, int]:
        return self.expected_color(self.layer_id, self.code)

    @staticmethod
    def expected_color(layer_id: str, code: str) -> tuple[int, int, int]:
        style = load_style({"GHYDYH": "landuse-ghydyh", "DLTB": "landuse-dltb"}[layer_id])
        rule = next((r for r in style.rules if r.filter and r.filter[1] == code), style.rules[-1])
        return rgb(rule.symbol.fill)


def roomiest_parcel(db, layer_id: str, table: str, field: str, where: str = "") -> Parcel:
    """The parcel with the largest inscribed circle among the largest ones."""
    row = db.execute(
        f"SELECT {field}, ST_X(c.center), ST_Y(c.center), c.radius FROM "
        f"(SELECT {field}, geom FROM {table} {where} ORDER BY ST_Area(geom) DESC LIMIT 40) t, "
        "LATERAL ST_MaximumInscribedCircle(t.geom) c ORDER BY c.radius DESC LIMIT 1").fetchone()
    return Parcel(layer_id, row[0], row[1], row[2], row[3])


def zoom_for(parcel: Parcel) -> float:
    """A web map zoom at which the parcel's inscribed circle is 40 pixels across."""
    metres_per_pixel = parcel.radius_deg * 111_320 / 20
    return min(18.0, math.log2(TILE_SIZE_M_AT_ZOOM_0 * math.cos(math.radians(parcel.lat)) / 256 / metres_per_pixel))


def pixel_at(png: bytes, x: int, y: int) -> tuple[int, int, int, int]:
    return Image.open(io.BytesIO(png)).convert("RGBA").getpixel((x, y))


def assert_colour(pixel: tuple[int, int, int, int], expected: tuple[int, int, int], what: str) -> None:
    assert pixel[3] == 255, f"{what}: transparent pixel {pixel}"
    assert all(abs(a - b) <= TOLERANCE for a, b in zip(pixel[:3], expected, strict=True)), \
        f"{what}: pixel {pixel[:3]} is not the style colour {expected}"


def tile_of(parcel: Parcel, matrix_set: str) -> tuple[int, int, int, int, int]:
    """(zoom, col, row, px, py) of the parcel centre at a zoom where the
    parcel spans several pixels and the scale is below the label scale."""
    if matrix_set == "WebMercatorQuad":
        z = 14
        n = 2**z
        fx = (parcel.lon + 180) / 360 * n
        lat = math.radians(parcel.lat)
        fy = (1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * n
    else:  # CGCS2000: 0.703125 degrees per pixel at level 0, origin at (-180, 90)
        z = 13
        span = 256 * 0.703125 / 2**z
        fx, fy = (parcel.lon + 180) / span, (90 - parcel.lat) / span
    return z, int(fx), int(fy), int((fx % 1) * 256), int((fy % 1) * 256)
