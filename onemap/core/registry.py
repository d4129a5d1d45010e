"""The layer registry (图层注册表): config/layers.yaml as typed data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from onemap.core.settings import config_dir, load_yaml

SENSITIVITIES = ("public", "internal")


@dataclass(frozen=True)
class Text:
    """A text in Chinese (shown first) and English."""

    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


@dataclass(frozen=True)
class Layer:
    id: str
    title: Text
    description: Text
    keywords_zh: tuple[str, ...]
    keywords_en: tuple[str, ...]
    table: str
    geometry: str
    sensitivity: str
    versioned: bool
    style: str
    directory: tuple[str, ...]
    key_fields: tuple[str, ...]
    classification: str = "landuse"   # of the class column: landuse (规划分类) or survey (三调工作分类)
    # monitoring layers (监测): features carry the validity interval of their
    # period (valid_from, valid_to until the next period's value); `datetime`
    # selects a period as for plan layers, without it the latest is shown
    periodic: bool = False

    @property
    def timed(self) -> bool:
        """Whether features answer `datetime` by their validity interval."""
        return self.versioned or self.periodic

    @property
    def schema(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".", 1)[1]

    @property
    def is_public(self) -> bool:
        return self.sensitivity == "public"


class RegistryError(ValueError):
    pass


def _layer(entry: dict) -> Layer:
    try:
        layer = Layer(
            id=entry["id"],
            title=Text(**entry["title"]),
            description=Text(**entry["description"]),
            keywords_zh=tuple(entry["keywords"]["zh"]),
            keywords_en=tuple(entry["keywords"]["en"]),
            table=entry["table"],
            geometry=entry["geometry"],
            sensitivity=entry["sensitivity"],
            versioned=bool(entry.get("versioned", False)),
            style=entry["style"],
            directory=tuple(entry["directory"]),
            key_fields=tuple(entry.get("key_fields", ())),
            periodic=bool(entry.get("periodic", False)),
            classification=entry.get("classification", "landuse"),
        )
    except (KeyError, TypeError) as exc:
        raise RegistryError(f"layer {entry.get('id', '?')}: missing or bad entry {exc}") from exc
    if layer.sensitivity not in SENSITIVITIES:
        raise RegistryError(f"layer {layer.id}: sensitivity must be one of {SENSITIVITIES}")
    if layer.versioned and layer.periodic:
        raise RegistryError(f"layer {layer.id}: a layer is versioned (plan) or periodic (monitoring), not both")
    if layer.classification not in ("landuse", "survey"):
        raise RegistryError(f"layer {layer.id}: classification must be landuse or survey")
    if "." not in layer.table:
        raise RegistryError(f"layer {layer.id}: table must be schema.table")
    return layer


def load_layers(path: Path | None = None) -> list[Layer]:
    """All registered layers, in registry order."""
    path = path or config_dir() / "layers.yaml"
    layers = [_layer(e) for e in load_yaml(path)["layers"]]
    ids = [layer.id for layer in layers]
    if len(ids) != len(set(ids)):
        raise RegistryError(f"duplicate layer ids in {path}")
    return layers


@dataclass(frozen=True)
class ProcessEntry:
    """An OGC API process of config/processes.yaml."""

    id: str
    plugin: str
    upload_input: str | None = None
    allow_internal_callbacks: bool = False
    time_limit_s: float | None = None  # None: the gateway's limits.process_seconds


def load_processes(path: Path | None = None) -> list[ProcessEntry]:
    path = path or config_dir() / "processes.yaml"
    entries = load_yaml(path).get("processes") or []
    for entry in entries:
        if isinstance(entry, dict) and "roles" in entry:
            # who runs a process is a permission of the roles now: one place for it
            raise RegistryError(f"{path}: process {entry.get('id')}: `roles` is no longer read here; "
                                f"give the roles `runs: [{entry.get('id')}]` in config/gateway.yaml")
    try:
        processes = [ProcessEntry(id=e["id"], plugin=e["plugin"], upload_input=e.get("upload_input"),
                                  allow_internal_callbacks=bool(e.get("allow_internal_callbacks", False)),
                                  time_limit_s=float(e["time_limit_s"]) if "time_limit_s" in e else None)
                     for e in entries]
    except (KeyError, TypeError) as exc:
        raise RegistryError(f"{path}: bad process entry {exc}") from exc
    if len({p.id for p in processes}) != len(processes):
        raise RegistryError(f"duplicate process ids in {path}")
    return processes
