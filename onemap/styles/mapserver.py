"""A style as MapServer mapfile CLASS blocks (with the layer-level items they
need: CLASSITEM, LABELITEM, LABELMAXSCALEDENOM), for the raster maps."""

from __future__ import annotations

from onemap.styles.model import Rule, Style, Symbol, rgb

FONT = "cjk"  # the FONTSET alias of the CJK font (onemap/maps/mapfile.py)


def quote(text: str) -> str:
    """A mapfile string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _color(color: str) -> str:
    return "{} {} {}".format(*rgb(color))


def _styles(geometry: str, symbol: Symbol) -> list[str]:
    if geometry == "point":
        lines = ["STYLE", f'  SYMBOL "{symbol.marker or "circle"}"', f"  SIZE {symbol.size:g}"]
        if symbol.fill:
            lines.append(f"  COLOR {_color(symbol.fill)}")
        if symbol.stroke:
            lines += [f"  OUTLINECOLOR {_color(symbol.stroke)}", f"  WIDTH {symbol.stroke_width:g}"]
        if symbol.fill_opacity < 1:
            lines.append(f"  OPACITY {round(symbol.fill_opacity * 100)}")
        return [*lines, "END"]
    lines: list[str] = []
    if geometry == "line":  # a line layer's COLOR is its stroke
        lines += ["STYLE", f"  COLOR {_color(symbol.stroke or '#000000')}", f"  WIDTH {symbol.stroke_width:g}"]
        if symbol.dash:
            lines += ["  LINECAP BUTT", "  PATTERN " + " ".join(f"{d:g}" for d in symbol.dash) + " END"]
        return [*lines, "END"]
    if symbol.fill:
        lines += ["STYLE", f"  COLOR {_color(symbol.fill)}"]
        if symbol.fill_opacity < 1:
            lines.append(f"  OPACITY {round(symbol.fill_opacity * 100)}")
        lines.append("END")
    if symbol.stroke:
        lines += ["STYLE", f"  OUTLINECOLOR {_color(symbol.stroke)}", f"  WIDTH {symbol.stroke_width:g}"]
        if symbol.dash:
            lines += ["  LINECAP BUTT", "  PATTERN " + " ".join(f"{d:g}" for d in symbol.dash) + " END"]
        lines.append("END")
    return lines


def _class(style: Style, rule: Rule, classitem: str | None) -> list[str]:
    lines = ["CLASS", f"  NAME {quote(rule.name)}", f"  TITLE {quote(f'{rule.title.zh} {rule.title.en}')}"]
    if rule.filter:
        field, value = rule.filter
        # with CLASSITEM a plain string is an exact match: the fastest test
        expression = quote(value) if classitem else f'("[{field}]" = {quote(value)})'
        lines.append(f"  EXPRESSION {expression}")
    lines += ["  " + line for line in _styles(style.geometry, rule.symbol)]
    if style.label:
        label = style.label
        lines += [
            "  LABEL",
            f"    TEXT {quote(f'[{label.field}]')}",
            f'    FONT "{FONT}"',
            "    TYPE TRUETYPE",
            f"    SIZE {label.size:g}",
            f"    COLOR {_color(label.color)}",
            f"    OUTLINECOLOR {_color(label.halo)}",
            "    OUTLINEWIDTH 2",
            "    PARTIALS FALSE",
            "    POSITION " + ("AUTO" if style.geometry == "point" else "CC"),
            "  END",
        ]
    return [*lines, "END"]


def layer_items(style: Style) -> list[str]:
    """The LAYER-level lines of the style, before its classes."""
    lines = []
    if style.classified_field:
        lines.append(f"CLASSITEM {quote(style.classified_field)}")
    if style.label:
        lines.append(f"LABELMAXSCALEDENOM {style.label.max_scale:g}")
        if style.geometry == "polygon":
            # label the whole polygon, not the part inside the meta-tile: one
            # label in one place whatever tile is rendered
            lines.append('PROCESSING "LABEL_NO_CLIP=True"')
    return lines


def to_mapserver_classes(style: Style) -> list[str]:
    """The CLASS blocks of `style`, one per rule, in rule order (MapServer
    takes the first class that matches, so the unfiltered rest comes last)."""
    classitem = style.classified_field
    return [line for rule in style.rules for line in _class(style, rule, classitem)]
