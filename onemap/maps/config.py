"""MapProxy configuration generated from the registry, the styles and the
map layer tree (mapproxy/groups.yaml).

As for pygeoapi, two configurations come from the same data: the internal
one with every layer and the public one with the public layers only, so that
a public client's capabilities documents never name an internal layer. A
layer's tiles are cached once for both (same cache, same directory); a group
is cached per audience, since the public group draws fewer layers, and is
rendered by one MapServer call with all its layers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onemap.core.components import Components, load_object
from onemap.core.registry import Layer, Text
from onemap.core.settings import ROOT, MapServerFiles, Settings, dump_yaml, load_yaml
from onemap.maps.mapfile import MAPSERV
from onemap.ogc.config import AUDIENCES

MAPPROXY_DIR = ROOT / "mapproxy"
GRIDS = ("WebMercatorQuad", "CGCS2000")
SOURCE_SRS = ["EPSG:4490", "EPSG:3857"]  # the grids' own: MapServer renders them without warping


@dataclass(frozen=True)
class Group:
    name: str
    title: Text
    layers: tuple[str, ...]  # bottom to top


@dataclass(frozen=True)
class Tree:
    """The map layer tree: a root that draws `root.layers`, its groups."""

    root: Group
    groups: tuple[Group, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.root.name, *(g.name for g in self.groups))


def load_tree(layers: list[Layer], path: Path = MAPPROXY_DIR / "groups.yaml") -> Tree:
    spec = load_yaml(path)
    root = Group(spec["root"]["name"], Text(**spec["root"]["title"]), tuple(spec["root"]["draws"]))
    groups = tuple(Group(g["name"], Text(**g["title"]), tuple(g["layers"])) for g in spec["groups"])
    known = {layer.id for layer in layers}
    for group in (root, *groups):
        unknown = set(group.layers) - known
        if unknown:
            raise ValueError(f"{path}: group {group.name} names unknown layers {sorted(unknown)}")
        if group.name in known:
            raise ValueError(f"{path}: group name {group.name} is a layer id")
    return Tree(root, groups)


def visible_layers(layers: list[Layer], audience: str) -> list[Layer]:
    return [layer for layer in layers if audience == "internal" or layer.is_public]


def visible_group(group: Group, visible: set[str]) -> Group | None:
    members = tuple(name for name in group.layers if name in visible)
    return Group(group.name, group.title, members) if members else None


def group_sensitivity(tree: Tree, layers: list[Layer]) -> dict[str, str]:
    """A group is public when the public service has it (one public member)."""
    public = {layer.id for layer in layers if layer.is_public}
    return {g.name: "public" if visible_group(g, public) else "internal" for g in (tree.root, *tree.groups)}


def source_name(layer_id: str) -> str:
    return f"{layer_id}_mapserver"


def layer_cache(layer_id: str) -> str:
    return f"{layer_id}_cache"


def group_cache(name: str, audience: str) -> str:
    return f"{name}_{audience}_cache"


def title(text: Text) -> str:
    return f"{text.zh} {text.en}"


def cache_dir(settings: Settings) -> Path:
    return settings.var_dir / "cache" / "mapproxy"


def plan_state_file(settings: Settings) -> Path:
    """The tiles of versioned layers older than this file are drawn again
    (MapProxy's refresh_before: mtime); onemap.maps.service.PlanStateWatch
    rewrites it when the plan in force changes."""
    return cache_dir(settings) / "plan-in-force.state"


def mapproxy_config(layers: list[Layer], tree: Tree, settings: Settings, files: MapServerFiles,
                    extents: dict[str, dict[str, Any]], audience: str) -> dict[str, Any]:
    """The MapProxy configuration of one audience ('public' or 'internal')."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}")
    base = load_yaml(MAPPROXY_DIR / "mapproxy.yaml")
    cache_opts = base.pop("cache_options")
    visible = visible_layers(layers, audience)
    names = {layer.id for layer in visible}
    by_id = {layer.id: layer for layer in visible}
    server = settings.gateway["server"]
    contact = server["contact"]

    config = copy.deepcopy(base)
    config["globals"]["cache"].update({
        "base_dir": str(cache_dir(settings)),
        "lock_dir": str(cache_dir(settings) / "locks"),
        "tile_lock_dir": str(cache_dir(settings) / "tile_locks"),
    })
    config["globals"]["mapserver"] = {"binary": str(MAPSERV), "working_dir": str(files.directory)}
    config["services"]["wms"]["md"] = {
        "title": f"{server['title']['zh']}地图服务 {server['title']['en']} - maps",
        "abstract": "规划用地、三条控制线、现状地类等图层的 WMS 1.3 / WMTS 1.0 / TMS 地图服务。"
                    " WMS, WMTS and TMS maps of the planning layers.",
        "online_resource": f"{settings.base_url}/mapproxy/service",
        "contact": {"organization": contact["organization"]["zh"], "city": contact["city"]["zh"],
                    "country": contact["country"]["zh"], "email": contact["email"]},
        "access_constraints": "公开图层 Public layers" if audience == "public"
        else "内部图层，需访问令牌 Internal layers: access token required",
        "fees": "none",
        "keyword_list": [{"keywords": [*server["keywords"]["zh"], *server["keywords"]["en"]]}],
    }

    # one coverage for every source (the extent of all the data): MapProxy
    # then combines the sources of a group into one MapServer call
    boxes = [extents[layer.id]["spatial"]["bbox"] for layer in layers]
    coverage = {"bbox": [min(b[0] for b in boxes), min(b[1] for b in boxes),
                         max(b[2] for b in boxes), max(b[3] for b in boxes)], "srs": "EPSG:4490"}
    config["sources"] = {
        source_name(layer.id): {
            "type": "mapserver",
            "req": {"layers": layer.id, "map": str(files.mapfile), "transparent": True},
            "supported_srs": SOURCE_SRS,
            "coverage": coverage,
            "wms_opts": {"version": "1.1.1", "featureinfo": True, "legendgraphic": True},
        }
        for layer in visible
    }
    # a tile of a versioned layer shows the plan in force when it was drawn
    refresh = {"refresh_before": {"mtime": str(plan_state_file(settings))}}

    # monitoring layers change with every run of the monitoring and the
    # warnings: drawn for every request (a few hundred units), never stored
    live = {"disable_storage": True}

    def cache_of(layer_ids: list[str]) -> dict[str, Any]:
        versioned = any(by_id[name].versioned for name in layer_ids)
        periodic = any(by_id[name].periodic for name in layer_ids)
        return {"grids": list(GRIDS), "sources": [source_name(name) for name in layer_ids], **cache_opts,
                **(refresh if versioned else {}), **(live if periodic else {})}

    caches = {layer_cache(layer.id): cache_of([layer.id]) for layer in visible}

    def group_entry(group: Group, children: list[dict[str, Any]]) -> dict[str, Any]:
        caches[group_cache(group.name, audience)] = cache_of(list(group.layers))
        return {"name": group.name, "title": title(group.title),
                "sources": [group_cache(group.name, audience)], "layers": children}

    def layer_entry(layer: Layer) -> dict[str, Any]:
        return {"name": layer.id, "title": title(layer.title), "sources": [layer_cache(layer.id)],
                "md": {"abstract": f"{layer.description.zh} {layer.description.en}"}}

    children = []
    grouped: set[str] = set()
    for group in tree.groups:
        shown = visible_group(group, names)
        if shown:
            children.append(group_entry(shown, [layer_entry(by_id[name]) for name in shown.layers]))
            grouped |= set(shown.layers)
    children += [layer_entry(layer) for layer in visible if layer.id not in grouped]
    root = visible_group(tree.root, names)
    if root is None:
        raise ValueError(f"the root of the map tree draws no {audience} layer")
    config["layers"] = [group_entry(root, children)]
    config["caches"] = caches
    return config


def map_parts(settings: Settings) -> list[dict[str, Any]]:
    """The sources, caches and top layers that the domain adds
    (config/components.yaml `map_sources`, e.g. the cloud basemap)."""
    return [load_object(reference)(settings) for reference in Components.load(settings.config_dir).map_sources]


def with_parts(config: dict[str, Any], parts: list[dict[str, Any]], audience: str) -> dict[str, Any]:
    """The configuration with the map parts for the audiences each names
    (both by default); the public one has only the layers a part says are
    public."""
    for part in parts:
        if audience not in part.get("audiences", AUDIENCES):
            continue
        for section in ("sources", "caches"):
            config[section].update(part.get(section) or {})
        sensitivity = part_sensitivity(part)
        config["layers"] += [layer for layer in part.get("layers") or []
                             if audience == "internal" or sensitivity[layer["name"]] == "public"]
    return config


def part_sensitivity(part: dict[str, Any]) -> dict[str, str]:
    """The access decision of each layer a map part adds: as the part's
    `sensitivity` says, internal where it says nothing (secure by default)."""
    said = part.get("sensitivity") or {}
    return {layer["name"]: said.get(layer["name"], "internal") for layer in part.get("layers") or []}


def parts_sensitivity_path(settings: Settings) -> Path:
    """Where the generation leaves the sensitivity of the parts' layers for
    the gateway (which does not build the parts again: some write files)."""
    return settings.generated_dir / "map-parts-sensitivity.yaml"


def config_path(settings: Settings, audience: str) -> Path:
    return settings.generated_dir / f"mapproxy-{audience}.yaml"


def write_mapproxy_configs(layers: list[Layer], tree: Tree, settings: Settings, files: MapServerFiles,
                           extents: dict[str, dict[str, Any]]) -> list[Path]:
    state = plan_state_file(settings)
    if not state.exists():  # MapProxy fails a request whose refresh file is missing
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text("", encoding="utf-8")
    written = []
    parts = map_parts(settings)
    for audience in AUDIENCES:
        path = config_path(settings, audience)
        config = with_parts(mapproxy_config(layers, tree, settings, files, extents, audience), parts, audience)
        path.write_text(dump_yaml(config), encoding="utf-8")
        written.append(path)
    sensitivity = {name: value for part in parts for name, value in part_sensitivity(part).items()}
    parts_sensitivity_path(settings).write_text(dump_yaml(sensitivity, sort_keys=True), encoding="utf-8")
    return [*written, parts_sensitivity_path(settings)]
