"""config/components.yaml as typed data, and the one way the assembly loads
what it names (`package.module:attribute`), as pygeoapi loads its plugins."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from onemap.core.settings import load_yaml


class ComponentError(ValueError):
    pass


def load_object(reference: str) -> Any:
    """The attribute named by `package.module:attribute`."""
    module_name, _, attribute = reference.partition(":")
    if not attribute:
        raise ComponentError(f"component reference {reference!r} must be 'package.module:attribute'")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ComponentError(f"component {reference!r} cannot be loaded: {exc}") from exc


@dataclass(frozen=True)
class Components:
    schemas: tuple[str, ...]
    blueprints: tuple[str, ...]
    health_checks: tuple[tuple[str, str], ...]
    commands: tuple[str, ...]
    config_checks: tuple[tuple[str, str], ...] = ()
    map_sources: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    catalogue_layers: tuple[str, ...] = ()
    partner_checks: frozenset[str] = frozenset()

    @classmethod
    def load(cls, config_dir: Path) -> Components:
        data = load_yaml(config_dir / "components.yaml") or {}
        try:
            return cls(schemas=tuple(data.get("schemas") or ()),
                       blueprints=tuple(data.get("blueprints") or ()),
                       health_checks=tuple((e["name"], e["check"]) for e in data.get("health_checks") or ()),
                       commands=tuple(data.get("commands") or ()),
                       config_checks=tuple((e["name"], e["check"]) for e in data.get("config_checks") or ()),
                       map_sources=tuple(data.get("map_sources") or ()),
                       collections=tuple(data.get("collections") or ()),
                       catalogue_layers=tuple(data.get("catalogue_layers") or ()),
                       partner_checks=frozenset(e["name"] for e in data.get("health_checks") or ()
                                                if e.get("partner")))
        except (KeyError, TypeError) as exc:
            raise ComponentError(f"{config_dir / 'components.yaml'}: bad entry {exc}") from exc

    def schema_sql(self) -> list[str]:
        """The DDL of every schema entry, in order."""
        texts = []
        for reference in self.schemas:
            package, _, name = reference.partition(":")
            texts.append(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
        return texts
