"""pygeoapi configuration generated from the layer registry.

Two configurations are generated from the same registry: one with every
layer (for staff and admin tokens) and one with the public layers only (for
anonymous and other clients), so that the collection list, the OpenAPI
document and every link a public client sees hold public layers only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from catalogue.config import AUDIENCE_FILTERS, REPOSITORY_SCHEMA
from onemap.core.components import Components, load_object
from onemap.core.db import connection_parameters
from onemap.core.registry import Layer, ProcessEntry
from onemap.core.settings import Settings, dump_yaml
from onemap.styles.documents import style_links

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
SERVED_CRS = [
    CRS84,
    "http://www.opengis.net/def/crs/EPSG/0/4490",  # CGCS2000 geographic
    "http://www.opengis.net/def/crs/EPSG/0/4546",  # CGCS2000 3-degree GK CM 111E
    "http://www.opengis.net/def/crs/EPSG/0/4525",  # the same, zone 37 (zone in easting)
]
AUDIENCES = ("public", "internal")
# where pygeoapi's OpenAPI document takes schemas from -> the bundled copies' folder
OGC_SCHEMAS = {"https://schemas.opengis.net/": "",
               "https://raw.githubusercontent.com/opengeospatial/ogcapi-records/master/": "ogcapi-records/",
               "https://raw.githubusercontent.com/opengeospatial/ogcapi-coverages/refs/heads/master/":
                   "ogcapi-coverages/"}
SCHEMAS_DIR = Path(__file__).parent / "schemas"  # served at /schemas/ogc/ (onemap.gateway.app)
# Languages without a territory: pygeoapi 0.24 builds Locale(language,
# territory) for a request that names another territory, the bare language
# or an unknown language, and babel knows no "zh_CN" without its script
# (zh_Hans_CN), so ?lang=zh or Accept-Language: fr was a 500 with zh-CN here.
LANGUAGES = ["zh", "en"]



def _i18n(text: Any) -> dict[str, Any]:
    """pygeoapi's multilingual value: keys are language tags."""
    return {"zh": text["zh"] if isinstance(text, dict) else text.zh,
            "en": text["en"] if isinstance(text, dict) else text.en}


def collection(layer: Layer, conn: dict[str, Any], extent: dict[str, Any],
               links: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """One pygeoapi resource for one registry layer: features and vector tiles."""
    data = {**conn, "search_path": [layer.schema, "public"]}
    common = {"data": data, "id_field": "id", "table": layer.table_name, "geom_field": "geom",
              "versioned": layer.timed}
    keywords = {"zh": list(layer.keywords_zh), "en": list(layer.keywords_en)}
    resource: dict[str, Any] = {
        "type": "collection",
        "title": _i18n(layer.title),
        "description": _i18n(layer.description),
        "keywords": keywords,
        "links": list(links),
        "extents": extent,
        "providers": [
            {
                "type": "feature",
                "name": "onemap.ogc.providers.OneMapFeatureProvider",
                **common,
                "storage_crs": CRS84,
                "crs": SERVED_CRS,
            },
            {
                "type": "tile",
                "name": "onemap.ogc.providers.OneMapTileProvider",
                **common,
                "options": {"zoom": {"min": 0, "max": 20}},
                "data_bbox": extent["spatial"]["bbox"],  # the tileset's extent and limits
                "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"},
            },
        ],
    }
    return resource


RECORDS_COLLECTION = "catalogue"


def records_collection(conn: dict[str, Any], audience: str, base_url: str,
                       extents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """OGC API Records on the catalogue's pycsw repository, with the same
    repository filter as the audience's pycsw configuration."""
    boxes = [e["spatial"]["bbox"] for e in extents.values()]
    bbox = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
    return {
        "type": "collection",
        "title": {"zh": "数据目录与图层元数据", "en": "Data directory and layer metadata"},
        "description": {"zh": "数据目录各级分类与各图层的元数据记录（与 /csw 同一目录），可按 q、bbox、datetime 检索。",
                        "en": "Records of the data directory classes and of every layer (the catalogue of /csw), "
                              "searchable by q, bbox and datetime."},
        "keywords": {"zh": ["数据目录", "元数据"], "en": ["catalogue", "metadata"]},
        "links": [{"type": "application/xml", "rel": "alternate", "title": "CSW 2.0.2 / 3.0",
                   "href": f"{base_url}/csw?service=CSW&request=GetCapabilities"}],
        "extents": {"spatial": {"bbox": bbox, "crs": CRS84}},
        "providers": [{"type": "record", "name": "onemap.ogc.records.OneMapRecordProvider",
                       "data": {**conn, "schema": REPOSITORY_SCHEMA}, "filter": AUDIENCE_FILTERS[audience],
                       "public_url": f"{base_url}/csw", "items_url": f"{base_url}/ogc/collections/{RECORDS_COLLECTION}/items",
                       "id_field": "identifier", "title_field": "title"}],
    }


def pygeoapi_config(layers: list[Layer], settings: Settings, database_url: str,
                    extents: dict[str, dict[str, Any]], audience: str,
                    processes: list[ProcessEntry] = ()) -> dict[str, Any]:
    """The whole pygeoapi configuration for one audience ('public' or 'internal')."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}")
    gw = settings.gateway
    conn = connection_parameters(database_url)
    server = gw["server"]
    contact = server["contact"]
    visible = [layer for layer in layers if audience == "internal" or layer.is_public]
    return {
        "server": {
            "bind": {"host": settings.host, "port": settings.port},
            "url": f"{settings.base_url}/ogc",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            "languages": LANGUAGES,
            "cors": False,
            "pretty_print": False,
            "limits": {
                "default_items": gw["limits"]["default_items"],
                "max_items": gw["limits"]["max_items"],
                # above the maximum, limit is the maximum: OGC API Features
                # Part 1 (7.15.3) says a larger limit SHALL NOT be an error
                "on_exceed": "throttle",
            },
            # The HTML pages' map: our own service, the machine has no internet.
            "map": {"url": f"{settings.base_url}/mapproxy/wmts/one_map/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png",
                    "attribution": "益阳市自然资源和规划局 / Yiyang Bureau of Natural Resources and Planning"},
            "manager": {
                "name": "onemap.ogc.jobs.OneMapJobManager",
                "connection": {**conn, "search_path": ["jobs"]},
                "output_dir": None,  # results in the jobs table (onemap.ogc.jobs)
            },
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": _i18n(server["title"]),
                "description": _i18n(server["description"]),
                "keywords": server["keywords"],
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": settings.base_url,
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": _i18n(contact["organization"]), "url": contact["url"]},
            "contact": {
                "name": _i18n(contact["organization"]),
                "position": {"zh": "数据管理", "en": "Data management"},
                "address": "",
                "city": _i18n(contact["city"]),
                "stateorprovince": {"zh": "湖南省", "en": "Hunan"},
                "postalcode": "413000",
                "country": _i18n(contact["country"]),
                "email": contact["email"],
                "url": contact["url"],
                "role": "pointOfContact",
            },
        },
        "resources": {
            **{layer.id: collection(layer, conn, extents[layer.id], style_links(layer, settings.base_url))
               for layer in visible},
            # Processes are listed for every audience (the e-government system
            # reads the public configuration); the gateway checks who executes.
            **{p.id: {"type": "process", "processor": {"name": p.plugin},
                      "allow_internal_requests": p.allow_internal_callbacks,
                      "time_limit_s": p.time_limit_s or float(gw["limits"]["process_seconds"])}
               for p in processes},
            **(domain_collections(settings, extents) if audience == "internal" else {}),
            RECORDS_COLLECTION: records_collection(conn, audience, settings.base_url, extents),
        },
    }


def domain_collections(settings: Settings, extents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The collections the domain adds (config/components.yaml `collections`)."""
    return {cid: resource for reference in Components.load(settings.config_dir).collections
            for cid, resource in load_object(reference)(settings, extents).items()}


def offline_refs(document: Any, schemas_url: str) -> Any:
    """The OpenAPI document with every `$ref` to the OGC's schemas pointed at
    the bundled copies (SCHEMAS_DIR), so that it resolves without internet."""
    if isinstance(document, dict):
        return {key: (_offline_ref(value, schemas_url) if key == "$ref" and isinstance(value, str)
                      else offline_refs(value, schemas_url))
                for key, value in document.items()}
    if isinstance(document, list):
        return [offline_refs(item, schemas_url) for item in document]
    return document


_LINK = {"type": "object", "required": ["href"], "properties": {"href": {"type": "string"}}}


def described_as_served(oas: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """Where pygeoapi 0.24's OpenAPI document describes a response other than
    the one it serves, the description of what it serves (found by the
    fuzzer, bench/fuzz.py): /conformance is a conformance declaration, not a
    landing page (which must have links); a tileset list is OGC API Tiles
    1.0's `tilesets`, not the draft's `tileMatrixSetLinks`; and a process
    answers its outputs by id (OneMapProcessor), not its first output alone;
    a coverage is CoverageJSON or its native format, not a feature collection."""
    from pygeoapi.plugin import load_plugin

    for process_id, resource in cfg["resources"].items():
        path = oas["paths"].get(f"/processes/{process_id}/execution")
        if resource["type"] != "process" or path is None:
            continue
        processor = load_plugin("process", resource["processor"])
        outputs = processor.metadata["outputs"]
        by_reference = getattr(processor, "references", frozenset())  # these may come as a link
        # pygeoapi describes the media type of the first output (a PDF, say);
        # the default answer is the JSON document of the outputs asked for
        content = path["post"]["responses"]["200"].setdefault("content", {})
        content["application/json"] = {"schema": {
            "type": "object",  # the outputs asked for (all by default), by id
            "properties": {name: {"anyOf": [output["schema"], _LINK]} if name in by_reference else output["schema"]
                           for name, output in outputs.items()}}}
    for path, item in oas["paths"].items():
        # a coverage is CoverageJSON or the collection's own format, not features
        coverage = cfg["resources"].get(path.split("/")[2]) if path.endswith("/coverage") else None
        if coverage:
            native = next(p["format"]["mimetype"] for p in coverage["providers"] if p["type"] == "coverage")
            item["get"]["responses"]["200"] = {"description": "The coverage / 覆盖数据", "content": {
                "application/prs.coverage+json": {"schema": {"type": "object"}},
                native: {"schema": {"type": "string", "format": "binary"}},
                "text/html": {"schema": {"type": "string"}}}}
    ok = oas["paths"]["/conformance"]["get"]["responses"]["200"]
    ok["$ref"] = ok["$ref"].replace("/responses/LandingPage", "/responses/ConformanceDeclaration")
    schemas = oas["components"]["schemas"]
    if "tiles" in schemas:
        schemas["tiles"] = {"type": "object", "required": ["links", "tilesets"], "properties": {
            "links": schemas["tiles"]["properties"]["links"],
            "tilesets": {"type": "array", "items": {"type": "object", "required": ["links", "tileMatrixSetURI"],
                                                    "properties": {"links": {"type": "array"}}}}}}
    return oas


def _offline_ref(ref: str, schemas_url: str) -> str:
    for remote, local in OGC_SCHEMAS.items():
        if ref.startswith(remote):
            return schemas_url + local + ref[len(remote):]
    return ref


def config_path(settings: Settings, audience: str) -> Path:
    return settings.generated_dir / f"pygeoapi-{audience}.yml"


def openapi_path(settings: Settings, audience: str) -> Path:
    return settings.generated_dir / f"pygeoapi-{audience}-openapi.yml"


def write_configs(layers: list[Layer], settings: Settings, database_url: str,
                  extents: dict[str, dict[str, Any]], processes: list[ProcessEntry] = ()) -> list[Path]:
    """Write both configurations and their OpenAPI documents under var/generated."""
    from pygeoapi.openapi import get_oas

    settings.generated_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for audience in AUDIENCES:
        cfg = pygeoapi_config(layers, settings, database_url, extents, audience, processes)
        path = config_path(settings, audience)
        path.write_text(dump_yaml(cfg), encoding="utf-8")
        path.chmod(0o600)  # holds the database password
        oas = described_as_served(offline_refs(get_oas(cfg), f"{settings.base_url}/schemas/ogc/"), cfg)
        openapi_path(settings, audience).write_text(
            dump_yaml(oas), encoding="utf-8")
        written.append(path)
    return written
