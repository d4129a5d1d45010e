"""Layer styles (图层样式) as typed data: styles/<id>.yaml, one per layer.

A style is a list of rules; a rule is an optional attribute filter (field =
value) and a symbol. A style that classifies by a colour table (the land-use
classes of styles/tables/) gets one rule per class of the table. The same
rules are written out as SLD, MapLibre style JSON and MapServer classes, so a
layer looks the same in QGIS, the web viewer and the WMS/WMTS maps.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from onemap.core.landuse import LANDUSE, SURVEY, lineage, load_classes, load_crosswalk
from onemap.core.registry import Text
from onemap.core.settings import ROOT, load_yaml

STYLES_DIR = ROOT / "styles"
LABEL_FONT = "Noto Sans CJK SC"  # fonts-noto-cjk: Chinese labels everywhere
GEOMETRIES = ("polygon", "point", "line")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
# Scale denominator of zoom level 0 of WebMercatorQuad (256-px tiles, 0.28 mm pixels).
_Z0_SCALE = 559_082_264.028717


class StyleError(ValueError):
    pass


@dataclass(frozen=True)
class Symbol:
    """How a feature is drawn. Sizes and widths are in pixels."""

    fill: str | None = None
    fill_opacity: float = 1.0
    stroke: str | None = None
    stroke_width: float = 1.0
    dash: tuple[float, ...] = ()
    marker: str | None = None  # 'circle' for point layers
    size: float = 8.0


@dataclass(frozen=True)
class Rule:
    name: str
    title: Text
    symbol: Symbol
    filter: tuple[str, str] | None = None  # (field, value); None: every other feature


@dataclass(frozen=True)
class Label:
    field: str
    max_scale: float  # labels only at scales larger than 1:max_scale
    size: float = 9.0
    color: str = "#333333"
    halo: str = "#FFFFFF"

    @property
    def min_zoom(self) -> float:
        """The WebMercatorQuad zoom level from which labels show."""
        return round(math.log2(_Z0_SCALE / self.max_scale), 2)


@dataclass(frozen=True)
class Style:
    id: str
    title: Text
    geometry: str
    rules: tuple[Rule, ...]
    label: Label | None = None

    @property
    def classified_field(self) -> str | None:
        """The one field every filtered rule tests, if there is one."""
        fields = {r.filter[0] for r in self.rules if r.filter}
        return fields.pop() if len(fields) == 1 else None

    @property
    def fields(self) -> tuple[str, ...]:
        names = [r.filter[0] for r in self.rules if r.filter]
        if self.label:
            names.append(self.label.field)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class ColorClass:
    code: str
    title: Text
    color: str


def rgb(color: str) -> tuple[int, int, int]:
    """'#RRGGBB' -> (r, g, b)."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _color(value: object, where: str) -> str:
    if not isinstance(value, str) or not _COLOR.match(value):
        raise StyleError(f"{where}: colour must be '#RRGGBB', not {value!r}")
    return value.upper()


@cache
def color_table(name: str, styles_dir: Path = STYLES_DIR, classification: str = LANDUSE) -> tuple[ColorClass, ...]:
    """A colour for every class of the land-use classification, from a
    colour table of styles/tables/; a class without a colour of its own
    takes its parent's (a level-3 class its level-2 class's, and so on).
    `survey`: a colour for every survey class (三调工作分类), its planning
    class's through the crosswalk, so current use and plan compare."""
    path = styles_dir / "tables" / f"{name}.yaml"
    if not path.exists():
        raise StyleError(f"colour table {name!r} not found ({path})")
    own = {str(code): _color(color, f"{path.name} {code}") for code, color in load_yaml(path)["colors"].items()}
    colors: dict[str, ColorClass] = {}
    for landuse in load_classes().values():
        color = next((own[c] for c in lineage(landuse.code) if c in own), None)
        if color is None:
            raise StyleError(f"{path.name}: no colour for class {landuse.code} nor its parents")
        colors[landuse.code] = ColorClass(landuse.code, landuse.name, color)
    if classification == SURVEY:
        return tuple(ColorClass(c.code, Text(c.name_zh, colors[c.landuse_code].title.en), colors[c.landuse_code].color)
                     for c in load_crosswalk().values())
    if classification != LANDUSE:
        raise StyleError(f"{path.name}: classification must be {LANDUSE} or {SURVEY}")
    return tuple(colors.values())


def _symbol(spec: dict, where: str) -> Symbol:
    try:
        symbol = Symbol(
            fill=_color(spec["fill"], where) if spec.get("fill") else None,
            fill_opacity=float(spec.get("fill_opacity", 1.0)),
            stroke=_color(spec["stroke"], where) if spec.get("stroke") else None,
            stroke_width=float(spec.get("stroke_width", 1.0)),
            dash=tuple(float(d) for d in spec.get("dash", ())),
            marker=spec.get("marker"),
            size=float(spec.get("size", 8.0)),
        )
    except (TypeError, ValueError) as exc:
        raise StyleError(f"{where}: bad symbol {spec!r}: {exc}") from exc
    if symbol.fill is None and symbol.stroke is None:
        raise StyleError(f"{where}: a symbol needs a fill or a stroke")
    if symbol.marker not in (None, "circle"):
        raise StyleError(f"{where}: marker must be 'circle'")
    return symbol


def _rules(spec: dict, where: str, styles_dir: Path) -> tuple[Rule, ...]:
    if "classes" in spec:
        by = spec["classes"]
        base = by.get("symbol", {})
        rules = [Rule(name=c.code, title=c.title, filter=(by["field"], c.code),
                      symbol=_symbol({**base, "fill": c.color}, f"{where} {c.code}"))
                 for c in color_table(by["table"], styles_dir, by.get("classification", LANDUSE))]
        if by.get("other"):
            other = by["other"]
            rules.append(Rule(name="other", title=Text(other["zh"], other["en"]),
                              symbol=_symbol({**base, "fill": other["fill"]}, f"{where} other")))
        return tuple(rules)
    rules = []
    for entry in spec["rules"]:
        flt = entry.get("filter")
        if flt is not None and len(flt) != 1:
            raise StyleError(f"{where} rule {entry.get('name')}: filter is one field: value")
        rules.append(Rule(name=entry["name"], title=Text(**entry["title"]),
                          filter=(next(iter(flt)), str(next(iter(flt.values())))) if flt else None,
                          symbol=_symbol(entry["symbol"], f"{where} rule {entry['name']}")))
    return tuple(rules)


@cache
def load_style(style_id: str, styles_dir: Path = STYLES_DIR) -> Style:
    """The style styles/<style_id>.yaml."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", style_id):
        raise StyleError(f"bad style id {style_id!r}")
    path = styles_dir / f"{style_id}.yaml"
    if not path.exists():
        raise StyleError(f"style {style_id!r} not found ({path})")
    spec = load_yaml(path)
    where = f"styles/{path.name}"
    try:
        label = spec.get("label")
        style = Style(
            id=style_id,
            title=Text(**spec["title"]),
            geometry=spec["geometry"],
            rules=_rules(spec, where, styles_dir),
            label=Label(field=label["field"], max_scale=float(label["max_scale"]),
                        size=float(label.get("size", 9)), color=_color(label.get("color", "#333333"), where),
                        halo=_color(label.get("halo", "#FFFFFF"), where)) if label else None,
        )
    except (KeyError, TypeError) as exc:
        raise StyleError(f"{where}: missing or bad entry {exc}") from exc
    if style.geometry not in GEOMETRIES:
        raise StyleError(f"{where}: geometry must be one of {GEOMETRIES}")
    if style.geometry == "line" and not all(r.symbol.stroke for r in style.rules):
        raise StyleError(f"{where}: a line style draws strokes: every rule needs a stroke")
    if any(r.filter is None for r in style.rules[:-1]):
        raise StyleError(f"{where}: only the last rule may go without a filter (it takes the rest)")
    return style
