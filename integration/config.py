"""config/integration.yaml as typed data (系统对接配置)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onemap.core.access import SENSITIVITIES
from onemap.core.settings import Settings, load_yaml


@dataclass(frozen=True)
class OutboxSettings:
    poll_seconds: float = 1.0
    batch: int = 20
    timeout_seconds: float = 10.0
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 600.0
    max_attempts: int = 12


@dataclass(frozen=True)
class IntegrationConfig:
    outbox: OutboxSettings
    partners: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, config_dir: Path) -> IntegrationConfig:
        data = load_yaml(config_dir / "integration.yaml") or {}
        known = OutboxSettings.__dataclass_fields__
        unknown = set(data.get("outbox") or {}) - set(known)
        if unknown:
            raise ValueError(f"integration.yaml outbox: unknown settings {sorted(unknown)}")
        outbox = OutboxSettings(**{k: type(getattr(OutboxSettings, k))(v) for k, v in (data.get("outbox") or {}).items()})
        if outbox.max_attempts < 1 or outbox.batch < 1 or outbox.poll_seconds <= 0:
            raise ValueError("integration.yaml outbox: max_attempts and batch ≥ 1, poll_seconds > 0")
        if not isinstance(data.get("standins", True), bool):
            raise ValueError("integration.yaml standins: true or false")
        for name, partner in (data.get("partners") or {}).items():
            for key in ("layers", "map_layers"):  # map layers the partner serves through ours
                for layer, entry in (partner.get(key) or {}).items():
                    if entry.get("sensitivity", "internal") not in SENSITIVITIES:
                        raise ValueError(f"integration.yaml partners.{name}.{key}.{layer}.sensitivity: "
                                         f"one of {', '.join(SENSITIVITIES)}")
        return cls(outbox=outbox, partners=dict(data.get("partners") or {}))

    @classmethod
    def of(cls, settings: Settings) -> IntegrationConfig:
        """The instance's configuration: config/integration.yaml, each partner
        setting it leaves empty filled from the local stand-ins that `make up`
        started (standins_file): a URL set in config/ always wins."""
        config = cls.load(settings.config_dir)
        path = standins_file(settings.var_dir)
        standins = ((load_yaml(path) or {}) if path.exists() else {}).get("partners") or {}
        partners = {name: {**partner, **{key: value for key, value in (standins.get(name) or {}).items()
                                         if partner.get(key) in (None, "")}}
                    for name, partner in config.partners.items()}
        return cls(outbox=config.outbox, partners=partners)

    def partner(self, name: str) -> dict[str, Any]:
        if name not in self.partners:
            raise KeyError(f"integration.yaml: no partner {name!r}")
        return self.partners[name]


def standins_file(var_dir: Path) -> Path:
    """The partner settings pointing at the running local stand-ins
    (integration.standins), written by `make up`, removed by `make down`."""
    return var_dir / "integration" / "standins.yaml"


def secret(settings: Settings, partner: dict[str, Any]) -> bytes | None:
    """The partner's shared secret (its `secret_file` under var/), made at
    first use when the file is absent; None for a partner without one."""
    name = partner.get("secret_file")
    if not name:
        return None
    path = settings.var_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # written whole under another name, then linked: two workers starting
        # at once make one key, and neither reads a half-written file
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip().encode("ascii")


def check_config(config_dir: Path) -> None:
    """components.yaml config_checks: the file loads."""
    IntegrationConfig.load(config_dir)
