"""The `participation` section of config/gateway.yaml as typed data: which
roles moderate comments, triage reports and manage publications, the posting rate per client
address, the photo size limit. Checked before a changed gateway.yaml is
written (config/components.yaml config_checks) and at the gateway's start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onemap.core.ratelimit import RateLimit
from onemap.core.settings import load_yaml


@dataclass(frozen=True)
class ParticipationSettings:
    moderators: frozenset[str]
    triagers: frozenset[str]
    publishers: frozenset[str]  # write, publish and withdraw publications (公开公示管理)
    posting: RateLimit
    photo_max_bytes: int


def from_gateway(gateway: dict[str, Any]) -> ParticipationSettings:
    """Raises ValueError naming what is wrong."""
    section = gateway.get("participation")
    if not isinstance(section, dict):
        raise ValueError("gateway.yaml: the participation section is missing")
    roles = set(gateway.get("roles") or {})
    granted = {}
    for key in ("moderate", "triage", "publish"):
        names = section.get(key)
        if not isinstance(names, list) or not names or not set(names) <= roles:
            raise ValueError(f"gateway.yaml participation.{key}: a list of roles of gateway.yaml ({', '.join(sorted(roles))})")
        granted[key] = frozenset(names)
    try:
        posting = RateLimit.from_config({"anonymous_rate": section["posting_rate"]})
        photo_max_bytes = int(float(section["photo_max_mb"]) * 1024 * 1024)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"gateway.yaml participation: posting_rate {{per_second, burst}} and photo_max_mb "
                         f"must be numbers ({exc})") from exc
    if posting.per_second <= 0 or posting.burst < 1 or photo_max_bytes <= 0:
        raise ValueError("gateway.yaml participation: posting_rate and photo_max_mb must be positive")
    return ParticipationSettings(granted["moderate"], granted["triage"], granted["publish"], posting, photo_max_bytes)


def check_config(directory: Path) -> ParticipationSettings:
    return from_gateway(load_yaml(directory / "gateway.yaml"))
