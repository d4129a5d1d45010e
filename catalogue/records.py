"""Metadata records of the catalogue, as plain data: one per data-directory
class and one per registry layer, built from the registry, the directory,
catalogue/catalogue.yaml and the extents computed from the data; and one per
partner's map layer served through ours, marked as the partner's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from catalogue.directory import FACTS, LEVELS, NO_DATA, Directory, DirectoryClass
from onemap.core.registry import Layer, Text
from onemap.core.settings import load_yaml

CATALOGUE_FILE = Path(__file__).resolve().parent / "catalogue.yaml"

# ISO 19115 MD_ClassificationCode of a record: pycsw stores it in its
# `securityconstraints` column, which the public configuration filters on.
PUBLIC_CLASSIFICATION = "unclassified"
INTERNAL_CLASSIFICATION = "restricted"
# the access note of records that only staff and administrators reach
INTERNAL_ACCESS = Text("内部数据，凭访问令牌（规划业务人员、系统管理员）使用",
                       "internal: access token of planning staff or administrators required")


@dataclass(frozen=True)
class Contact:
    organization: Text
    email: str
    url: str
    city: Text
    country: Text


@dataclass(frozen=True)
class OnlineResource:
    url: str
    protocol: str
    name: str
    function: str  # CI_OnLineFunctionCode
    description: Text


@dataclass(frozen=True)
class MetadataRecord:
    identifier: str
    parent: str | None
    scope: str  # MD_ScopeCode: dataset (a layer) or series (a directory class)
    scope_name: Text
    title: Text
    abstract: Text
    keywords_zh: tuple[str, ...]
    keywords_en: tuple[str, ...]
    topic: str | None
    classification: str
    access: Text
    frequency: str
    lineage: Text | None
    contact: Contact
    datestamp: datetime
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north (CRS84)
    time_begin: datetime | None = None
    time_end: datetime | None = None  # None with a begin: still in force
    crs: str | None = None
    online: tuple[OnlineResource, ...] = ()
    purpose: Text | None = None
    status: str | None = None            # MD_ProgressCode: onGoing, planned (暂无数据)
    maintenance_note: Text | None = None

    @property
    def is_public(self) -> bool:
        return self.classification == PUBLIC_CLASSIFICATION


@dataclass(frozen=True)
class CatalogueConfig:
    """catalogue/catalogue.yaml plus the contact of config/gateway.yaml."""

    title: Text
    abstract: Text
    keywords_zh: tuple[str, ...]
    keywords_en: tuple[str, ...]
    identifier_prefix: str
    harvest_pagesize: int
    online_resources: tuple[dict[str, Any], ...]
    layer_defaults: dict[str, Any]
    layer_metadata: dict[str, dict[str, Any]]
    contact: Contact

    @classmethod
    def load(cls, gateway: dict[str, Any], path: Path = CATALOGUE_FILE) -> CatalogueConfig:
        data = load_yaml(path)
        service, contact = data["service"], gateway["server"]["contact"]
        return cls(
            title=Text(**service["title"]),
            abstract=Text(**service["abstract"]),
            keywords_zh=tuple(service["keywords"]["zh"]),
            keywords_en=tuple(service["keywords"]["en"]),
            identifier_prefix=data["identifier_prefix"],
            harvest_pagesize=int(data["harvest_pagesize"]),
            online_resources=tuple(data["online_resources"]),
            layer_defaults=data["layer_defaults"],
            layer_metadata=data.get("layers") or {},
            contact=Contact(Text(**contact["organization"]), contact["email"], contact["url"],
                            Text(**contact["city"]), Text(**contact["country"])),
        )

    def directory_identifier(self, cls: DirectoryClass) -> str:
        return f"{self.identifier_prefix}.dir.{cls.code}"

    def layer_identifier(self, layer: Layer) -> str:
        return f"{self.identifier_prefix}.layer.{layer.id}"

    def partner_identifier(self, layer: PartnerLayer) -> str:
        """Under our prefix (publish owns it: gone when the partner's layers
        are no longer configured), in a branch of its own that the push to
        the province skips (config/integration.yaml push_skip)."""
        return f"{self.identifier_prefix}.partner.{layer.partner}.{layer.id}"


def _online(config: CatalogueConfig, base_url: str, name: str,
            protocols: frozenset[str] | None = None) -> tuple[OnlineResource, ...]:
    """The online resources of catalogue.yaml for layer `name` (those of
    `protocols` only, when given)."""
    return tuple(
        OnlineResource(url=spec["url"].format(base=base_url, id=name), protocol=spec["protocol"],
                       name=name, function=spec["function"], description=Text(**spec["description"]))
        for spec in config.online_resources if protocols is None or spec["protocol"] in protocols)


def directory_record(cls: DirectoryClass, directory: Directory, config: CatalogueConfig,
                     datestamp: datetime, with_data: frozenset[str] = frozenset()) -> MetadataRecord:
    """The record of one data-directory class (a `series`); a small class
    says its source, purpose, update and department, and 暂无数据 (status
    `planned`) when no layer holds its data."""
    parents = [c for c in directory.classes if cls.path[:len(c.path)] == c.path and c != cls]
    names = [*parents, cls]
    path_zh = " › ".join(c.name.zh for c in names)
    path_en = " › ".join(c.name.en for c in names)
    level = LEVELS[cls.level - 1]
    small = cls.level == len(LEVELS)
    empty = small and cls.code not in with_data
    facts = [(FACTS[name], text) for name, text in cls.facts if name != "purpose"] if small else []
    zh = "".join(f"{label.zh}：{text.zh}。" for label, text in facts) + (f"{NO_DATA.zh}。" if empty else "")
    en = "".join(f" {label.en.capitalize()}: {text.en}." for label, text in facts) + (f" {NO_DATA.en.capitalize()}." if empty else "")
    return MetadataRecord(
        identifier=config.directory_identifier(cls),
        parent=config.directory_identifier(parents[-1]) if parents else None,
        scope="series",
        scope_name=Text(f"数据目录{level.zh}", f"data directory {level.en}"),
        title=cls.name,
        abstract=Text(f"国土空间规划\"一张图\"数据目录{level.zh}（{cls.code}）：{path_zh}。{zh}",
                      f"One Map data directory {level.en} ({cls.code}): {path_en}.{en}"),
        keywords_zh=("数据目录", *(c.name.zh for c in names), *((NO_DATA.zh,) if empty else ())),
        keywords_en=("data directory", *(c.name.en for c in names), *((NO_DATA.en,) if empty else ())),
        topic=None,
        classification=PUBLIC_CLASSIFICATION,
        access=Text("公开", "public"),
        frequency="asNeeded",
        lineage=cls.fact("source") if small else None,
        contact=config.contact,
        datestamp=datestamp,
        purpose=cls.fact("purpose") if small else None,
        status=("planned" if empty else "onGoing") if small else None,
        maintenance_note=cls.fact("update") if small else None,
    )


def layer_record(layer: Layer, directory: Directory, extent: dict[str, Any], config: CatalogueConfig,
                 base_url: str, datestamp: datetime) -> MetadataRecord:
    """The record of one registry layer (a `dataset`), with the extent
    computed from its data (`onemap.core.db.layer_extent`)."""
    meta = {**config.layer_defaults, **config.layer_metadata.get(layer.id, {})}
    temporal = extent.get("temporal") or {}
    online = _online(config, base_url, layer.id)
    public = layer.is_public
    return MetadataRecord(
        identifier=config.layer_identifier(layer),
        parent=config.directory_identifier(directory.class_of(layer)),
        scope="dataset",
        scope_name=Text("图层", "layer"),
        title=layer.title,
        abstract=layer.description,
        keywords_zh=(*layer.keywords_zh, layer.id),
        keywords_en=layer.keywords_en,
        topic=meta["topic"],
        classification=PUBLIC_CLASSIFICATION if public else INTERNAL_CLASSIFICATION,
        access=Text("公开", "public") if public else INTERNAL_ACCESS,
        frequency=meta["frequency"],
        lineage=Text(**meta["lineage"]),
        contact=config.contact,
        datestamp=datestamp,
        bbox=tuple(extent["spatial"]["bbox"][:4]),
        time_begin=temporal.get("begin"),
        time_end=temporal.get("end"),
        crs="EPSG:4490",
        online=online,
    )


# 指标体系: the directory class of the indicator systems' records and the
# layer that serves their values
INDICATOR_SYSTEMS_CLASS = ("规划监督数据", "指标监测", "监测指标")
INDICATOR_VALUES_LAYER = "ZBJC"


def indicator_system_record(system: dict[str, Any], directory: Directory, config: CatalogueConfig,
                            base_url: str, datestamp: datetime) -> MetadataRecord:
    """The record of one indicator system of config/indicators/systems.yaml
    (a non-geographic dataset): its groups and members in the abstract, its
    values (the layer ZBJC, internal like them) and the evaluation process
    as online resources."""
    parent = next(c for c in directory.classes if c.path == INDICATOR_SYSTEMS_CLASS)
    groups = {str(g): [str(c) for c in codes or ()] for g, codes in (system.get("members") or {}).items()}
    members = "；".join(f"{g}：{'、'.join(codes) or '—'}" for g, codes in groups.items())
    name = Text(**system["name"])
    count = sum(len(codes) for codes in groups.values())
    return MetadataRecord(
        identifier=f"{config.identifier_prefix}.indicators.{system['id']}",
        parent=config.directory_identifier(parent),
        scope="nonGeographicDataset",
        scope_name=Text("指标体系", "indicator system"),
        title=name,
        abstract=Text(f"{name.zh}（{system['id']}），{count} 项指标。{members}。",
                      f"{name.en} ({system['id']}), {count} indicators in {len(groups)} groups."),
        keywords_zh=("指标体系", "指标监测", *groups),
        keywords_en=("indicator system", "indicator monitoring"),
        topic="planningCadastre",
        classification=INTERNAL_CLASSIFICATION,
        access=INTERNAL_ACCESS,
        frequency="annually",
        lineage=Text("按指标体系配置（config/indicators/systems.yaml）与监测值生成",
                     "From the configured indicator system and its monitoring values"),
        contact=config.contact,
        datestamp=datestamp,
        online=(
            OnlineResource(url=f"{base_url}/ogc/collections/{INDICATOR_VALUES_LAYER}", protocol="OGC:API-Features",
                           name=INDICATOR_VALUES_LAYER, function="download",
                           description=Text("指标监测值（按 zbbm 过滤、按 datetime 选年度）",
                                            "Indicator values (filter by zbbm, datetime selects the year)")),
            OnlineResource(url=f"{base_url}/ogc/processes/implementation-evaluation", protocol="OGC:API-Processes",
                           name="implementation-evaluation", function="information",
                           description=Text(f"实施评估（system={system['id']}）",
                                            f"Implementation evaluation (system={system['id']})"))),
    )


@dataclass(frozen=True)
class EvaluationResult:
    """An evaluation output served as a coverage and a map layer
    (config/evaluation/layers.yaml), read here as data."""

    id: str
    title: Text
    description: Text
    keywords_zh: tuple[str, ...]
    keywords_en: tuple[str, ...]
    directory: tuple[str, ...]

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> EvaluationResult:
        return cls(entry["id"], Text(**entry["title"]), Text(**entry["description"]), tuple(entry["keywords"]["zh"]),
                   tuple(entry["keywords"]["en"]), tuple(entry["directory"]))


def evaluation_result_record(result: EvaluationResult, directory: Directory, bbox: list[float],
                             config: CatalogueConfig, base_url: str, datestamp: datetime) -> MetadataRecord:
    """The record of one evaluation output (a `dataset`, internal like the
    services): the latest run's class raster as an OGC API coverage (GeoTIFF)
    and a WMS/WMTS layer in the class colours; its extent is the city's."""
    return MetadataRecord(
        identifier=f"{config.identifier_prefix}.evaluation.{result.id}",
        parent=config.directory_identifier(directory.class_of(result)),
        scope="dataset",
        scope_name=Text("评价结果栅格", "evaluation raster"),
        title=result.title,
        abstract=result.description,
        keywords_zh=(*result.keywords_zh, result.id),
        keywords_en=result.keywords_en,
        topic="planningCadastre",
        classification=INTERNAL_CLASSIFICATION,
        access=INTERNAL_ACCESS,
        frequency="asNeeded",
        lineage=Text("由最近一次双评价（suitability-evaluation，方法见 config/evaluation/）计算，每次运行后替换。",
                     "Computed by the latest double evaluation (suitability-evaluation); replaced by every run."),
        contact=config.contact,
        datestamp=datestamp,
        bbox=tuple(bbox[:4]),
        crs="EPSG:4546",
        online=(
            OnlineResource(url=f"{base_url}/ogc/collections/{result.id}/coverage?f=GTiff",
                           protocol="OGC:API-Coverages", name=result.id, function="download",
                           description=Text("OGC API 覆盖（GeoTIFF 分级栅格）", "OGC API - Coverages (GeoTIFF class raster)")),
            OnlineResource(url=f"{base_url}/mapproxy/service", protocol="OGC:WMS", name=result.id,
                           function="information", description=Text("WMS 1.3 地图服务图层（分级配色）",
                                                                     "WMS 1.3 map layer (class colours)")),
            OnlineResource(url=f"{base_url}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml", protocol="OGC:WMTS",
                           name=result.id, function="information",
                           description=Text("WMTS 1.0 切片地图服务图层", "WMTS 1.0 tiled map layer"))),
    )


@dataclass(frozen=True)
class PartnerLayer:
    """A partner's map layer served through our MapProxy (config/components.yaml
    `catalogue_layers`, e.g. the province's red line), read as data."""

    id: str                       # our WMS / WMTS layer name
    partner: str
    owner: Text                   # whose data it is
    layer: str                    # its name at the partner
    title: Text
    sensitivity: str
    directory: tuple[str, ...]
    topic: str | None = None

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> PartnerLayer:
        return cls(entry["id"], entry["partner"], Text(**entry["owner"]), entry["layer"], Text(**entry["title"]),
                   entry["sensitivity"], tuple(entry["directory"]), entry.get("topic"))


MAP_PROTOCOLS = frozenset({"OGC:WMS", "OGC:WMTS"})


def partner_layer_record(layer: PartnerLayer, directory: Directory, bbox: list[float], config: CatalogueConfig,
                         base_url: str, datestamp: datetime) -> MetadataRecord:
    """The record of a partner's map layer (a `dataset`): the partner's
    data, read-only here (relayed live, neither stored nor edited), as
    visible as the layer, reached through our WMS and WMTS; its extent is
    the city's (what our maps show of it)."""
    public = layer.sensitivity == "public"
    owner = layer.owner
    return MetadataRecord(
        identifier=config.partner_identifier(layer),
        parent=config.directory_identifier(directory.class_of(layer)),
        scope="dataset",
        scope_name=Text(f"{owner.zh}图层", f"layer of the {owner.en}"),
        title=layer.title,
        abstract=Text(f"{owner.zh}发布的图层 {layer.layer}，经本系统转发为 WMS / WMTS 图层 {layer.id}。"
                      f"数据属{owner.zh}，本系统只读，不存储、不编辑。",
                      f"Layer {layer.layer} of the {owner.en}, relayed by our WMS / WMTS as {layer.id}. "
                      f"The data is the {owner.en}'s: read-only here, neither stored nor edited."),
        keywords_zh=(owner.zh, "只读", layer.id, layer.layer),
        keywords_en=(owner.en, "read-only"),
        topic=layer.topic or config.layer_defaults["topic"],
        classification=PUBLIC_CLASSIFICATION if public else INTERNAL_CLASSIFICATION,
        access=Text(f"{owner.zh}数据，只读；" + ("公开" if public else INTERNAL_ACCESS.zh),
                    f"data of the {owner.en}, read-only; " + ("public" if public else INTERNAL_ACCESS.en)),
        frequency="irregular",
        lineage=Text(f"来源：{owner.zh} WMS 图层 {layer.layer}，每次请求实时转发（不缓存）。",
                     f"Source: layer {layer.layer} of the {owner.en}'s WMS, relayed at every request (not cached)."),
        contact=config.contact,
        datestamp=datestamp,
        bbox=tuple(bbox[:4]),
        crs="EPSG:4490",
        online=_online(config, base_url, layer.id, MAP_PROTOCOLS),
    )


def catalogue_records(layers: list[Layer], directory: Directory, extents: dict[str, dict[str, Any]],
                      config: CatalogueConfig, base_url: str, datestamp: datetime,
                      indicator_systems: list[dict[str, Any]] = (),
                      results: list[EvaluationResult] = (), city: str = "XZQ",
                      partner_layers: list[PartnerLayer] = ()) -> list[MetadataRecord]:
    """Every record `publish` owns: the directory classes, the layers, the
    indicator systems, then the evaluation results and the partners' map
    layers (both over the extent of the layer `city`)."""
    with_data = directory.with_data([*layers, *results, *partner_layers])
    return ([directory_record(cls, directory, config, datestamp, with_data) for cls in directory.classes]
            + [layer_record(layer, directory, extents[layer.id], config, base_url, datestamp)
               for layer in layers]
            + [indicator_system_record(system, directory, config, base_url, datestamp)
               for system in indicator_systems]
            + [evaluation_result_record(result, directory, extents[city]["spatial"]["bbox"], config, base_url,
                                        datestamp) for result in results]
            + [partner_layer_record(layer, directory, extents[city]["spatial"]["bbox"], config, base_url, datestamp)
               for layer in partner_layers])
