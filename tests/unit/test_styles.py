"""Styles: the YAML definitions and their SLD, MapLibre and MapServer forms."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from onemap.core.inforce import in_force
from onemap.core.registry import load_layers
from onemap.core.settings import Settings
from onemap.maps.mapfile import AT_PATTERN, AT_SQL, MAPSERV, mapfile_text, write_mapserver_files
from onemap.styles.maplibre import to_maplibre
from onemap.styles.mapserver import to_mapserver_classes
from onemap.styles.model import STYLES_DIR, StyleError, color_table, load_style, rgb
from onemap.styles.sld import OGC, SE, to_sld

LAYERS = {layer.id: layer for layer in load_layers()}
LANDUSE = {"GHYDYH": "ydyhdm", "DLTB": "dlbm"}
NS = {"se": SE, "ogc": OGC, "sld": "http://www.opengis.net/sld"}
EXTENTS = {layer_id: {"spatial": {"bbox": [111.9, 28.2, 112.9, 28.8]}} for layer_id in LAYERS}


def test_every_layer_has_a_style_and_its_fields_are_the_layers():
    for layer in LAYERS.values():
        style = load_style(layer.style)
        assert style.geometry == {"Point": "point", "MultiLineString": "line"}.get(layer.geometry, "polygon")
        assert style.title.zh and style.title.en
        for rule in style.rules:
            assert rule.title.zh and rule.title.en


def test_one_colour_table_for_both_land_use_layers():
    table = color_table("landuse")
    codes = [c.code for c in table]
    assert len(codes) == len(set(codes)) and len(codes) > 100
    by_code = {c.code: c.color for c in table}
    # a class without a colour of its own takes its parent's, level by level
    assert by_code["0102"] == by_code["01"]
    assert by_code["0101"] != by_code["01"]
    assert by_code["100101"] == by_code["1001"] == by_code["10"]
    assert by_code["100103"] != by_code["1001"]            # styled on its own
    assert by_code["070101"] == by_code["0701"] != by_code["07"]
    # conventional hues: cropland yellowish, forest green, water blue, industry brown
    r, g, b = rgb(by_code["0101"])
    assert r > 200 and g > 200 and b < 160
    r, g, b = rgb(by_code["0301"])
    assert g > r and g > b
    r, g, b = rgb(by_code["1701"])
    assert b > r and b > g
    r, g, b = rgb(by_code["1001"])
    assert r > g > b
    survey = color_table("landuse", classification="survey")
    for layer_id, field in LANDUSE.items():
        style = load_style(LAYERS[layer_id].style)
        classes = survey if LAYERS[layer_id].classification == "survey" else table
        classified = [r for r in style.rules if r.filter]
        assert [r.filter for r in classified] == [(field, c.code) for c in classes]
        assert [r.symbol.fill for r in classified] == [c.color for c in classes]
        assert style.rules[-1].filter is None  # the rest: codes not in the table


def test_survey_classes_take_their_planning_class_colour():
    """DLTB is survey-coded: its 0601 is 工业用地 and drawn as industry
    (planning 1001), not as a rural road (planning 0601)."""
    by_code = {c.code: c for c in color_table("landuse")}
    survey = {c.code: c for c in color_table("landuse", classification="survey")}
    assert survey["0601"].title.zh == "工业用地"
    assert survey["0601"].color == by_code["1001"].color != by_code["0601"].color
    assert survey["1006"].color == by_code["0601"].color          # 农村道路
    assert survey["05H1"].color == by_code["09"].color


def test_control_lines_have_their_conventional_outlines():
    red = load_style(LAYERS["STBHHX"].style).rules[0].symbol
    gold = load_style(LAYERS["YJJBNT"].style).rules[0].symbol
    purple = load_style(LAYERS["CZKFBJ"].style).rules[0].symbol
    assert rgb(red.stroke)[0] > 200 and rgb(red.stroke)[1] < 50
    assert rgb(gold.stroke)[0] > 200 and rgb(gold.stroke)[2] < 50
    assert purple.dash and rgb(purple.stroke)[0] > 150 and rgb(purple.stroke)[2] > 150
    for symbol in (red, gold, purple):
        assert symbol.fill_opacity < 0.5  # light fill: what lies below stays visible


def test_sld_has_one_rule_per_class_with_filter_and_colour():
    layer = LAYERS["GHYDYH"]
    style = load_style(layer.style)
    root = etree.fromstring(to_sld(style, layer.id))
    assert root.tag == "{http://www.opengis.net/sld}StyledLayerDescriptor"
    assert root.get("version") == "1.1.0"
    assert root.findtext("sld:NamedLayer/se:Name", namespaces=NS) == "GHYDYH"
    rules = root.findall(".//se:Rule", NS)
    filtered = [r for r in rules if r.find("ogc:Filter", NS) is not None]
    table = color_table("landuse")
    assert len(filtered) == len(table)
    for rule, cls in zip(filtered, table, strict=True):
        assert rule.findtext("ogc:Filter/ogc:PropertyIsEqualTo/ogc:PropertyName", namespaces=NS) == "ydyhdm"
        assert rule.findtext("ogc:Filter/ogc:PropertyIsEqualTo/ogc:Literal", namespaces=NS) == cls.code
        fill = rule.find("se:PolygonSymbolizer/se:Fill/se:SvgParameter[@name='fill']", NS)
        assert fill.text == cls.color
    assert len([r for r in rules if r.find("se:ElseFilter", NS) is not None]) == 1
    label = [r for r in rules if r.find("se:TextSymbolizer", NS) is not None]
    assert len(label) == 1
    assert float(label[0].findtext("se:MaxScaleDenominator", namespaces=NS)) == style.label.max_scale
    assert label[0].findtext("se:TextSymbolizer/se:Label/ogc:PropertyName", namespaces=NS) == "ydyhmc"
    assert "CJK" in label[0].find("se:TextSymbolizer/se:Font/se:SvgParameter", NS).text


def test_sld_of_points_and_dashed_lines():
    root = etree.fromstring(to_sld(load_style("dzzhd"), "DZZHD"))
    marks = root.findall(".//se:PointSymbolizer/se:Graphic/se:Mark/se:WellKnownName", NS)
    assert [m.text for m in marks] == ["circle"] * 4
    root = etree.fromstring(to_sld(load_style("czkfbj"), "CZKFBJ"))
    dash = root.find(".//se:Stroke/se:SvgParameter[@name='stroke-dasharray']", NS)
    assert dash.text == "8 4"
    assert root.find(".//ogc:Filter", NS) is None and root.find(".//se:ElseFilter", NS) is None


def test_a_line_style_strokes_in_every_form():
    style, layer = load_style("dlzxx"), LAYERS["DLZXX"]
    root = etree.fromstring(to_sld(style, "DLZXX"))
    strokes = root.findall(".//se:LineSymbolizer/se:Stroke/se:SvgParameter[@name='stroke']", NS)
    assert [s.text for s in strokes] == [r.symbol.stroke for r in style.rules]
    assert root.find(".//se:PolygonSymbolizer", NS) is None
    assert {m["type"] for m in to_maplibre(style, layer, "http://x")["layers"]} == {"line"}
    lines = [line.strip() for line in to_mapserver_classes(style)]
    drawn = [lines[i + 1:i + 3] for i, line in enumerate(lines) if line == "STYLE"]
    assert drawn == [[f"COLOR {' '.join(map(str, rgb(r.symbol.stroke)))}", f"WIDTH {r.symbol.stroke_width:g}"]
                     for r in style.rules]


def test_maplibre_style_is_structurally_valid():
    for layer in LAYERS.values():
        style = load_style(layer.style)
        doc = json.loads(json.dumps(to_maplibre(style, layer, "http://example.org")))
        assert doc["version"] == 8
        assert set(doc["sources"]) == {layer.id}
        source = doc["sources"][layer.id]
        assert source["type"] == "vector"
        assert source["tiles"] == [
            f"http://example.org/ogc/collections/{layer.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"]
        ids = [item["id"] for item in doc["layers"]]
        assert len(ids) == len(set(ids))
        for item in doc["layers"]:
            assert item["source"] == layer.id and item["source-layer"] == layer.table_name
            assert item["type"] in ("fill", "line", "circle")
            for key, value in item["paint"].items():
                if key.endswith("color"):
                    assert value.startswith("#") and len(value) == 7


def test_maplibre_styles_pass_the_official_validator(tmp_path):
    """gl-style-validate of @maplibre/maplibre-gl-style-spec (installed by the
    bootstrap from styles/package-lock.json)."""
    validator = STYLES_DIR / "node_modules" / ".bin" / "gl-style-validate"
    paths = []
    for layer in LAYERS.values():
        path = tmp_path / f"{layer.id}.json"
        path.write_text(json.dumps(to_maplibre(load_style(layer.style), layer, "http://example.org"),
                                   ensure_ascii=False), encoding="utf-8")
        paths.append(str(path))
    done = subprocess.run([str(validator), *paths], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    # and the validator does find faults
    path = tmp_path / "GHYDYH.json"
    broken = json.loads(path.read_text(encoding="utf-8"))
    broken["layers"][0]["paint"] = {"fill-color": 3}
    path.write_text(json.dumps(broken), encoding="utf-8")
    done = subprocess.run([str(validator), str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "color expected" in done.stdout + done.stderr


def test_maplibre_filters_by_code():
    layer = LAYERS["DLTB"]
    doc = to_maplibre(load_style(layer.style), layer, "http://example.org")
    fills = {item["filter"][2]: item["paint"]["fill-color"] for item in doc["layers"]
             if item["type"] == "fill" and item["filter"][0] == "=="}
    assert {item["filter"][1][1] for item in doc["layers"] if item["filter"][0] == "=="} == {"dlbm"}
    assert fills == {c.code: c.color for c in color_table("landuse", classification="survey")}
    rest = [item for item in doc["layers"] if item["filter"][0] == "!"]
    assert len(rest) == 1 and len(rest[0]["filter"][1]) == len(fills) + 1


def test_mapserver_classes_one_per_rule():
    style = load_style("landuse-ghydyh")
    lines = to_mapserver_classes(style)
    assert sum(1 for line in lines if line == "CLASS") == len(style.rules)
    assert 'EXPRESSION "0101"' in [line.strip() for line in lines]
    assert sum(1 for line in lines if line.strip().startswith("EXPRESSION")) == len(style.rules) - 1
    xzq = [line.strip() for line in to_mapserver_classes(load_style("xzq"))]
    assert "PATTERN 10 4 END" in xzq and 'FONT "cjk"' in xzq


def test_mapserver_reads_the_generated_mapfile(tmp_path):
    """The real mapserv parses the mapfile and lists every layer (no
    database needed: the layers carry their extents)."""
    settings = Settings.from_env({"ONEMAP_VAR": str(tmp_path)})
    layers = list(LAYERS.values())
    styles = {layer.style: load_style(layer.style) for layer in layers}
    files = write_mapserver_files(layers, styles, "postgresql://u:p'w@127.0.0.1:1/db", EXTENTS, settings)
    assert files == settings.mapserver_files
    assert oct(files.mapfile.stat().st_mode & 0o777) == "0o600"
    env = {**os.environ, "MAPSERVER_CONFIG_FILE": str(files.config_file), "REQUEST_METHOD": "GET",
           "QUERY_STRING": f"map={files.mapfile}&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"}
    out = subprocess.run([str(MAPSERV)], env=env, capture_output=True, timeout=30).stdout.decode()
    assert "WMS_Capabilities" in out, out[-500:]
    for layer in layers:
        assert f"<Name>{layer.id}</Name>" in out
    # the plan in force only, for versioned layers: now, or at the date the
    # vendor parameter AT gives (a report's year), checked before use
    text = mapfile_text(layers, styles, "postgresql://u@h/db", EXTENTS, files)
    assert f"FROM plan.ghydyh WHERE {in_force(AT_SQL)}" in text
    assert f'"at" "{AT_PATTERN}"' in text and '"default_at" "now"' in text
    assert "FROM base.dltb) AS t" in text


def _write_style(directory: Path, name: str, text: str) -> None:
    (directory / f"{name}.yaml").write_text(text, encoding="utf-8")


def test_bad_styles_are_refused_with_the_reason(tmp_path):
    _write_style(tmp_path, "bad-colour", "title: {zh: 甲, en: A}\ngeometry: polygon\nrules:\n"
                 "  - {name: a, title: {zh: 甲, en: A}, symbol: {fill: red}}\n")
    with pytest.raises(StyleError, match="colour must be"):
        load_style("bad-colour", tmp_path)
    _write_style(tmp_path, "bad-order", "title: {zh: 甲, en: A}\ngeometry: polygon\nrules:\n"
                 "  - {name: a, title: {zh: 甲, en: A}, symbol: {fill: '#FF0000'}}\n"
                 "  - {name: b, title: {zh: 乙, en: B}, filter: {f: x}, symbol: {fill: '#00FF00'}}\n")
    with pytest.raises(StyleError, match="only the last rule"):
        load_style("bad-order", tmp_path)
    _write_style(tmp_path, "no-symbol", "title: {zh: 甲, en: A}\ngeometry: raster\nrules: []\n")
    with pytest.raises(StyleError, match="geometry must be"):
        load_style("no-symbol", tmp_path)
    _write_style(tmp_path, "no-stroke", "title: {zh: 甲, en: A}\ngeometry: line\nrules:\n"
                 "  - {name: a, title: {zh: 甲, en: A}, symbol: {fill: '#FF0000'}}\n")
    with pytest.raises(StyleError, match="every rule needs a stroke"):
        load_style("no-stroke", tmp_path)
    with pytest.raises(StyleError, match="not found"):
        load_style("missing", tmp_path)
    with pytest.raises(StyleError, match="bad style id"):
        load_style("../etc/passwd", tmp_path)
