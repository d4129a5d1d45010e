"""A style as an OGC Styled Layer Descriptor 1.1 (Symbology Encoding 1.1),
the form QGIS, GeoServer and MapServer read: one se:Rule per style rule, a
label rule with a scale limit."""

from __future__ import annotations

from lxml import etree

from onemap.styles.model import LABEL_FONT, Rule, Style, Symbol

SLD = "http://www.opengis.net/sld"
SE = "http://www.opengis.net/se"
OGC = "http://www.opengis.net/ogc"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA = "http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd"
NSMAP = {"sld": SLD, "se": SE, "ogc": OGC, "xlink": XLINK, "xsi": XSI}


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _svg(parent: etree._Element, name: str, value: object) -> None:
    _el(parent, SE, "SvgParameter", _number(value) if isinstance(value, float) else str(value), name=name)


def _number(value: float) -> str:
    return f"{value:g}"


def _stroke(parent: etree._Element, symbol: Symbol) -> None:
    stroke = _el(parent, SE, "Stroke")
    _svg(stroke, "stroke", symbol.stroke)
    _svg(stroke, "stroke-width", symbol.stroke_width)
    if symbol.dash:
        _svg(stroke, "stroke-dasharray", " ".join(_number(d) for d in symbol.dash))


def _fill(parent: etree._Element, color: str, opacity: float) -> None:
    fill = _el(parent, SE, "Fill")
    _svg(fill, "fill", color)
    if opacity < 1:
        _svg(fill, "fill-opacity", opacity)


def _symbolizer(rule_el: etree._Element, geometry: str, symbol: Symbol) -> None:
    if geometry == "point":
        point = _el(rule_el, SE, "PointSymbolizer")
        graphic = _el(point, SE, "Graphic")
        mark = _el(graphic, SE, "Mark")
        _el(mark, SE, "WellKnownName", symbol.marker or "circle")
        if symbol.fill:
            _fill(mark, symbol.fill, symbol.fill_opacity)
        if symbol.stroke:
            _stroke(mark, symbol)
        _el(graphic, SE, "Size", _number(symbol.size))
        return
    if geometry == "line":
        _stroke(_el(rule_el, SE, "LineSymbolizer"), symbol)
        return
    polygon = _el(rule_el, SE, "PolygonSymbolizer")
    if symbol.fill:
        _fill(polygon, symbol.fill, symbol.fill_opacity)
    if symbol.stroke:
        _stroke(polygon, symbol)


def _rule(fts: etree._Element, style: Style, rule: Rule, has_filters: bool) -> None:
    rule_el = _el(fts, SE, "Rule")
    _el(rule_el, SE, "Name", rule.name)
    description = _el(rule_el, SE, "Description")
    _el(description, SE, "Title", f"{rule.title.zh} {rule.title.en}")
    if rule.filter:
        flt = _el(rule_el, OGC, "Filter")
        equal = _el(flt, OGC, "PropertyIsEqualTo")
        _el(equal, OGC, "PropertyName", rule.filter[0])
        _el(equal, OGC, "Literal", rule.filter[1])
    elif has_filters:
        _el(rule_el, SE, "ElseFilter")
    _symbolizer(rule_el, style.geometry, rule.symbol)


def _label_rule(fts: etree._Element, style: Style) -> None:
    label = style.label
    assert label is not None
    rule_el = _el(fts, SE, "Rule")
    _el(rule_el, SE, "Name", "label")
    description = _el(rule_el, SE, "Description")
    _el(description, SE, "Title", "注记 Labels")
    _el(rule_el, SE, "MaxScaleDenominator", _number(label.max_scale))
    text = _el(rule_el, SE, "TextSymbolizer")
    label_el = _el(text, SE, "Label")
    _el(label_el, OGC, "PropertyName", label.field)
    font = _el(text, SE, "Font")
    _svg(font, "font-family", LABEL_FONT)
    _svg(font, "font-size", label.size)
    placement = _el(text, SE, "LabelPlacement")
    point = _el(placement, SE, "PointPlacement")
    anchor = _el(point, SE, "AnchorPoint")
    _el(anchor, SE, "AnchorPointX", "0.5")
    _el(anchor, SE, "AnchorPointY", "0.5")
    halo = _el(text, SE, "Halo")
    _el(halo, SE, "Radius", "1.5")
    _fill(halo, label.halo, 1.0)
    _fill(text, label.color, 1.0)


def to_sld(style: Style, layer_name: str) -> bytes:
    """SLD 1.1 document for `style` applied to the named layer."""
    root = etree.Element(f"{{{SLD}}}StyledLayerDescriptor", nsmap=NSMAP, version="1.1.0")
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA)
    named = _el(root, SLD, "NamedLayer")
    _el(named, SE, "Name", layer_name)
    user = _el(named, SLD, "UserStyle")
    _el(user, SE, "Name", style.id)
    description = _el(user, SE, "Description")
    _el(description, SE, "Title", f"{style.title.zh} {style.title.en}")
    fts = _el(user, SE, "FeatureTypeStyle")
    has_filters = any(r.filter for r in style.rules)
    for rule in style.rules:
        _rule(fts, style, rule, has_filters)
    if style.label:
        _label_rule(fts, style)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
