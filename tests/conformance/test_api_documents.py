"""The documents OGC API Common describes, read by clients of their formats:
the OpenAPI document resolved offline by a JSON-reference resolver
(referencing), the feature schema by a JSON Schema validator (jsonschema)
against the features GDAL reads, and the HTML pages by an HTML parser."""

from __future__ import annotations

import json
from urllib.parse import urldefrag, urljoin

import jsonschema
import pyogrio.raw
import pytest
import requests
import yaml
from lxml import html

OAS30 = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
]


def resolve_all(document: dict, url: str, base_url: str, seen: dict[str, object]) -> int:
    """Follow every $ref of `document` (found at `url`), fetching the documents
    they name from the stack only; the number of references resolved."""
    count = 0
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(v for k, v in node.items() if k != "$ref")
            ref = node.get("$ref")
            if isinstance(ref, str):
                target, fragment = urldefrag(urljoin(url, ref))
                assert target.startswith(base_url), f"不在本服务内的引用 / reference outside the stack: {ref}"
                if target not in seen:
                    r = requests.get(target, timeout=30)
                    assert r.status_code == 200, f"{target}: {r.status_code}"
                    seen[target] = yaml.safe_load(r.text)
                    count += resolve_all(seen[target], target, base_url, seen)
                part = seen[target]
                for key in filter(None, fragment.split("/")):
                    part = part[key.replace("~1", "/").replace("~0", "~")]
                count += 1
    return count


@pytest.mark.conformance(*OAS30, client="requests + yaml: every $ref resolved from the stack alone")
@pytest.mark.parametrize("role", [None, "staff"])
def test_every_openapi_reference_resolves_offline(base_url, ogc_url, tokens, layers, role):
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
    r = requests.get(f"{ogc_url}/openapi", params={"f": "json"}, headers=headers, timeout=60)
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.0")
    doc = r.json()
    assert "schemas.opengis.net" not in r.text
    resolved = resolve_all(doc, f"{ogc_url}/openapi", base_url, {f"{ogc_url}/openapi": doc})
    assert resolved > 100
    paths = doc["paths"]
    assert "/collections/XZQ/items" in paths and "/processes/compliance-check/execution" in paths
    internal = next(layer.id for layer in layers if not layer.is_public)
    assert (f"/collections/{internal}/items" in paths) == (role == "staff")  # internal layers: staff only


@pytest.mark.conformance("http://www.opengis.net/spec/ogcapi-common-3/1.0/conf/schemas",
                         "http://www.opengis.net/spec/ogcapi-common-3/1.0/conf/advanced-property-roles",
                         client="jsonschema (Draft 2019-09) on features read by GDAL")
def test_the_feature_schema_describes_the_features_gdal_reads(ogc_url, db):
    schema = requests.get(f"{ogc_url}/collections/DZZHD/schema", params={"f": "json"}, timeout=30).json()
    roles = {name: p.get("x-ogc-role") for name, p in schema["properties"].items()}
    assert roles["id"] == "id" and roles["geometry"] == "primary-geometry"
    columns = {r[0] for r in db.execute("SELECT column_name FROM information_schema.columns WHERE "
                                        "table_schema = 'base' AND table_name = 'dzzhd' AND column_name <> 'geom'")}
    assert set(schema["properties"]) - {"geometry"} == columns
    validator = jsonschema.Draft201909Validator(
        {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != "geometry"}})
    meta, _, geometries, fields = pyogrio.raw.read(f"OAPIF:{ogc_url}", layer="DZZHD", max_features=50)
    names = list(meta["fields"])
    assert len(geometries) == 50
    for i in range(len(geometries)):
        record = {name: fields[j][i].item() if hasattr(fields[j][i], "item") else fields[j][i]
                  for j, name in enumerate(names)}
        validator.validate(json.loads(json.dumps(record, default=str)))


@pytest.mark.conformance("http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html",
                         "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
                         "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/html",
                         client="lxml.html")
def test_the_html_pages_show_the_data(ogc_url, db):
    landing = html.fromstring(requests.get(f"{ogc_url}/", params={"f": "html"}, timeout=30).content)
    assert any("/collections" in href for href in landing.xpath("//a/@href"))
    page = html.fromstring(requests.get(f"{ogc_url}/collections/XZQ/items",
                                        params={"f": "html", "limit": 100}, timeout=30).content)
    text = page.text_content()
    names = [r[0] for r in db.execute("SELECT xzqmc FROM base.xzq")]
    assert all(name in text for name in names)
    record = db.execute("SELECT identifier, title FROM catalogue.records WHERE identifier LIKE %s LIMIT 1",
                        ("%dir.0202",)).fetchone()
    page = html.fromstring(requests.get(f"{ogc_url}/collections/catalogue/items/{record[0]}",
                                        params={"f": "html"}, timeout=30).content)
    assert record[1] in page.text_content()
