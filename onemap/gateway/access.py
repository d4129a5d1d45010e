"""Who may see what: the access decision for a request, as a plain function
of the path, the caller's role and the registry."""

from __future__ import annotations

import re
from dataclasses import dataclass

from onemap.auth import Principal
from onemap.errors import Problem
from onemap.registry import Layer

_COLLECTION_PATH = re.compile(r"^/collections/([^/]+)")


@dataclass(frozen=True)
class AccessPolicy:
    """Sensitivities readable by each role, from config/gateway.yaml."""

    role_reads: dict[str, frozenset[str]]
    anonymous_reads: frozenset[str]
    sensitivity: dict[str, str]  # layer id -> sensitivity

    @classmethod
    def from_config(cls, gateway: dict, layers: list[Layer]) -> AccessPolicy:
        return cls(
            role_reads={role: frozenset(spec["reads"]) for role, spec in gateway["roles"].items()},
            anonymous_reads=frozenset(gateway["anonymous_reads"]),
            sensitivity={layer.id: layer.sensitivity for layer in layers},
        )

    def reads(self, principal: Principal) -> frozenset[str]:
        if principal.is_anonymous:
            return self.anonymous_reads
        return self.role_reads.get(principal.role or "", frozenset())

    def audience(self, principal: Principal) -> str:
        """Which generated pygeoapi configuration serves this caller."""
        return "internal" if "internal" in self.reads(principal) else "public"

    def check_collection_path(self, path: str, principal: Principal) -> Problem | None:
        """A Problem when `path` (under /ogc) names a layer the caller may not
        read: 401 without a token, 403 with a token of the wrong role."""
        match = _COLLECTION_PATH.match(path)
        if not match:
            return None
        sensitivity = self.sensitivity.get(match.group(1))
        if sensitivity is None or sensitivity in self.reads(principal):
            return None  # unknown collections are pygeoapi's 404
        if principal.is_anonymous:
            return Problem(401, "Unauthorized",
                           "该图层为内部数据，需要访问令牌（Authorization: Bearer <令牌>）",
                           "This layer is internal: an access token (Authorization: Bearer <token>) is required",
                           field="Authorization")
        allowed = " / ".join(sorted(r for r, reads in self.role_reads.items() if sensitivity in reads))
        return Problem(403, "Forbidden",
                       f"当前角色（{principal.role}）无权访问该图层，需要以下角色之一：{allowed}",
                       f"Role '{principal.role}' may not read this layer: it needs one of the roles {allowed}",
                       field="Authorization")
