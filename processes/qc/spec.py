"""The package specification as typed data, read from config/standards/.

One YAML file is one edition of a standard. An edition may `extends` another
and override its layers, tolerances and rules (by id), or drop rules.
"""

from __future__ import annotations

import csv
import fnmatch
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from onemap.core.settings import config_dir, load_yaml

SEVERITIES = ("error", "warning")


class SpecError(ValueError):
    """A specification file that cannot be used."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str            # text | real | integer
    length: int | None
    title: str


@dataclass(frozen=True)
class LayerSpec:
    name: str            # the layer name in the package; may be a pattern (ZXGH_*)
    title_zh: str
    title_en: str
    geometry: str        # polygon | none
    required: bool
    key: str | None
    publish: str | None  # registry layer id a publish fills
    fields: tuple[FieldSpec, ...]
    optional_fields: tuple[FieldSpec, ...] = ()

    @property
    def is_pattern(self) -> bool:
        return any(ch in self.name for ch in "*?[")

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name.upper(), self.name)

    @property
    def polygonal(self) -> bool:
        return self.geometry == "polygon"

    def field(self, name: str) -> FieldSpec | None:
        for f in (*self.fields, *self.optional_fields):
            if f.name == name:
                return f
        return None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    check: str
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Indicator:
    zbmc: str
    layer: str
    where_field: str | None = None
    where_prefix: tuple[str, ...] = ()


@dataclass(frozen=True)
class Domain:
    """A code list: code → name (用地用海分类)."""

    names: dict[str, str]


@dataclass(frozen=True)
class Spec:
    standard: str
    edition: str
    title_zh: str
    title_en: str
    default: bool
    accepted_crs: tuple[int, ...]
    storage_srid: int
    declaration: tuple[str, str] | None     # (layer, field) where a package names its edition
    domains: dict[str, Domain]
    tolerances: dict[str, float]
    layers: tuple[LayerSpec, ...]
    indicators: tuple[Indicator, ...]
    units: dict[str, float]
    rules: tuple[Rule, ...]
    path: Path

    def layer(self, name: str) -> LayerSpec | None:
        """The layer spec a package layer name falls under (exact names first)."""
        upper = name.upper()
        for layer in self.layers:
            if not layer.is_pattern and layer.name == upper:
                return layer
        for layer in self.layers:
            if layer.is_pattern and layer.matches(upper):
                return layer
        return None

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def _fields(entries: dict[str, Any] | None) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(name=name.upper(), type=f["type"], length=f.get("length"),
                           title=f.get("title", name))
                 for name, f in (entries or {}).items())


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """An edition extending another: layers (entry by entry), tolerances
    and units are overridden key by key, rules by id; `drop_rules` removes
    rules."""
    merged = {**base, **{k: v for k, v in override.items()
                         if k not in ("layers", "tolerances", "units", "rules", "drop_rules",
                                      "extends")}}
    for key in ("tolerances", "units"):
        merged[key] = {**base.get(key, {}), **override.get(key, {})}
    layers = dict(base.get("layers", {}))
    for name, layer in override.get("layers", {}).items():
        layers[name] = {**layers.get(name, {}), **layer}
    merged["layers"] = layers
    rules = {r["id"]: r for r in base.get("rules", [])}
    for r in override.get("rules", []):
        rules[r["id"]] = {**rules.get(r["id"], {}), **r}
    for rule_id in override.get("drop_rules", []):
        rules.pop(rule_id, None)
    merged["rules"] = list(rules.values())
    return merged


def _raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    data = load_yaml(path)
    if not isinstance(data, dict) or "edition" not in data:
        raise SpecError(f"{path}: not a specification file (no edition)")
    if "extends" in data:
        if path in seen:
            raise SpecError(f"{path}: editions extend each other in a loop")
        base_path = _edition_paths(data.get("standard", "plan-package"), path.parent).get(
            str(data["extends"]))
        if base_path is None:
            raise SpecError(f"{path}: extends unknown edition {data['extends']!r}")
        data = _merge(_raw(base_path, (*seen, path)), data)
    return data


def _domain(directory: Path, entry: dict[str, str]) -> Domain:
    with open(directory / entry["file"], encoding="utf-8") as f:
        return Domain({row[entry["code"]]: row[entry["name"]] for row in csv.DictReader(f)})


def load_spec(path: Path) -> Spec:
    """One edition, resolved against the editions it extends."""
    data = _raw(path)
    try:
        rules = []
        for r in data["rules"]:
            if r["severity"] not in SEVERITIES:
                raise SpecError(f"{path}: rule {r['id']}: severity must be one of {SEVERITIES}")
            params = {k: v for k, v in r.items()
                      if k not in ("id", "severity", "check", "title", "message")}
            rules.append(Rule(id=r["id"], severity=r["severity"], check=r["check"],
                              title_zh=r["title"]["zh"], title_en=r["title"]["en"],
                              message_zh=r["message"]["zh"], message_en=r["message"]["en"],
                              params=params))
        layers = tuple(
            LayerSpec(name=name.upper(), title_zh=layer["title"]["zh"], title_en=layer["title"]["en"],
                      geometry=layer.get("geometry", "polygon"), required=bool(layer.get("required")),
                      key=layer.get("key"), publish=layer.get("publish"),
                      fields=_fields(layer.get("fields")),
                      optional_fields=_fields(layer.get("optional_fields")))
            for name, layer in data["layers"].items())
        declaration = data.get("declaration")
        return Spec(
            standard=data.get("standard", "plan-package"), edition=str(data["edition"]),
            title_zh=data["title"]["zh"], title_en=data["title"]["en"],
            default=bool(data.get("default")),
            accepted_crs=tuple(int(c) for c in data["crs"]["accepted"]),
            storage_srid=int(data["crs"]["storage"]),
            declaration=(declaration["layer"].upper(), declaration["field"].upper()) if declaration else None,
            domains={name: _domain(path.parent, d) for name, d in data.get("domains", {}).items()},
            tolerances={k: float(v) for k, v in data["tolerances"].items()},
            layers=layers,
            indicators=tuple(Indicator(zbmc=i["zbmc"], layer=i["layer"].upper(),
                                       where_field=i.get("where_field"),
                                       where_prefix=tuple(i.get("where_prefix", ())))
                             for i in data.get("indicators", [])),
            units={k: float(v) for k, v in data.get("units", {}).items()},
            rules=tuple(rules),
            path=path,
        )
    except (KeyError, TypeError) as exc:
        raise SpecError(f"{path}: missing or bad entry {exc}") from exc


def _edition_paths(standard: str, directory: Path | None) -> dict[str, Path]:
    paths = {}
    for path in sorted((directory or config_dir() / "standards").glob("*.yaml")):
        data = load_yaml(path)
        if isinstance(data, dict) and data.get("standard") == standard and "edition" in data:
            paths[str(data["edition"])] = path
    return paths


@cache
def editions(standard: str = "plan-package", directory: Path | None = None) -> dict[str, Spec]:
    """Every edition of a standard in the standards folder, by edition."""
    return {edition: load_spec(path) for edition, path in _edition_paths(standard, directory).items()}


def check_config(directory: Path) -> dict[str, Spec]:
    """配置校验: every edition of the specification in a configuration
    directory loads, one of them the default (config/components.yaml's
    config_checks). Not cached: each candidate directory is read once."""
    specs = editions.__wrapped__(directory=directory / "standards")
    if sum(1 for s in specs.values() if s.default) != 1:
        raise SpecError(f"{directory / 'standards'}: exactly one edition of plan-package must say default: true")
    return specs


def default_edition(standard: str = "plan-package", directory: Path | None = None) -> Spec:
    specs = editions(standard, directory)
    defaults = [s for s in specs.values() if s.default]
    if len(defaults) != 1:
        raise SpecError(f"{directory}: exactly one edition of {standard} must say default: true")
    return defaults[0]
