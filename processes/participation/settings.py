"""The `participation` section of config/gateway.yaml as typed data: the
posting rate per client address and the photo size limit (who moderates,
triages and publishes is a permission of the roles: the access policy's
`participation`). Checked before a changed gateway.yaml is written
(config/components.yaml config_checks) and at the gateway's start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onemap.core.access import PARTICIPATION
from onemap.core.ratelimit import RateLimit
from onemap.core.settings import load_yaml


@dataclass(frozen=True)
class ParticipationSettings:
    posting: RateLimit
    photo_max_bytes: int


def from_gateway(gateway: dict[str, Any]) -> ParticipationSettings:
    """Raises ValueError naming what is wrong."""
    section = gateway.get("participation")
    if not isinstance(section, dict):
        raise ValueError("gateway.yaml: the participation section is missing")
    moved = sorted(set(section) & set(PARTICIPATION))
    if moved:  # a file of before the rights became the roles' permissions
        raise ValueError(f"gateway.yaml participation.{moved[0]}: name the right in the roles instead "
                         f"(roles.<name>.participation: [{', '.join(PARTICIPATION)}])")
    try:
        posting = RateLimit.from_config({"anonymous_rate": section["posting_rate"]})
        photo_max_bytes = int(float(section["photo_max_mb"]) * 1024 * 1024)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"gateway.yaml participation: posting_rate {{per_second, burst}} and photo_max_mb "
                         f"must be numbers ({exc})") from exc
    if posting.per_second <= 0 or posting.burst < 1 or photo_max_bytes <= 0:
        raise ValueError("gateway.yaml participation: posting_rate and photo_max_mb must be positive")
    return ParticipationSettings(posting, photo_max_bytes)


def check_config(directory: Path) -> ParticipationSettings:
    return from_gateway(load_yaml(directory / "gateway.yaml"))
