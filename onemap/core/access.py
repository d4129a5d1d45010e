"""Who may see what: the access decision for a request, as a plain function
of the path, the caller's role and the registry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from onemap.core.auth import Principal
from onemap.core.errors import Problem
from onemap.core.registry import Layer, ProcessEntry

_COLLECTION_PATH = re.compile(r"^/collections/([^/]+)")
_EXECUTION_PATH = re.compile(r"^/processes/([^/]+)/(execution|upload)/?$")
_JOBS_PATH = re.compile(r"^/jobs(/|$)")


@dataclass(frozen=True)
class AccessPolicy:
    """Sensitivities readable by each role, from config/gateway.yaml."""

    role_reads: dict[str, frozenset[str]]
    anonymous_reads: frozenset[str]
    sensitivity: dict[str, str]  # layer id -> sensitivity
    process_roles: dict[str, frozenset[str]]  # process id -> roles that execute it
    role_administers: dict[str, frozenset[str]] = field(default_factory=dict)  # role -> admin functions

    @classmethod
    def from_config(cls, gateway: dict, layers: list[Layer],
                    processes: list[ProcessEntry] = ()) -> AccessPolicy:
        return cls(
            role_reads={role: frozenset(spec["reads"]) for role, spec in gateway["roles"].items()},
            anonymous_reads=frozenset(gateway["anonymous_reads"]),
            sensitivity={layer.id: layer.sensitivity for layer in layers},
            process_roles={p.id: frozenset(p.roles) for p in processes},
            role_administers={role: frozenset(spec.get("administers", ()))
                              for role, spec in gateway["roles"].items()},
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
        return self.check_layer(match.group(1), principal) if match else None

    def check_layer(self, name: str, principal: Principal,
                    sensitivity_of: dict[str, str] | None = None) -> Problem | None:
        """A Problem when the caller may not read the layer `name` (a layer id,
        or a name of `sensitivity_of`, e.g. a map group); None for unknown
        names, which the service behind answers with its own 404."""
        sensitivity = (sensitivity_of or self.sensitivity).get(name)
        if sensitivity is None or sensitivity in self.reads(principal):
            return None
        if principal.is_anonymous:
            return Problem(401, "Unauthorized",
                           "该图层为内部数据，需要访问令牌（Authorization: Bearer <令牌>，或 HTTP Basic 以令牌为密码）",
                           "This layer is internal: an access token is required (Authorization: Bearer <token>, "
                           "or HTTP Basic with the token as the password)",
                           field="Authorization")
        allowed = " / ".join(sorted(r for r, reads in self.role_reads.items() if sensitivity in reads))
        return Problem(403, "Forbidden",
                       f"当前角色（{principal.role}）无权访问该图层，需要以下角色之一：{allowed}",
                       f"Role '{principal.role}' may not read this layer: it needs one of the roles {allowed}",
                       field="Authorization")

    def check_process_path(self, path: str, method: str, principal: Principal) -> Problem | None:
        """Executing a process needs a role of its entry; jobs (status,
        results, dismissal) need a token of a role that runs processes."""
        match = _EXECUTION_PATH.match(path)
        if match and method == "POST":
            allowed = self.process_roles.get(match.group(1))
            if allowed is None:
                return None  # unknown process: pygeoapi's 404
            return need_role(principal, allowed, "运行该处理服务", "run this process")
        if _JOBS_PATH.match(path):
            runners = frozenset().union(*self.process_roles.values()) if self.process_roles else frozenset()
            return need_role(principal, runners, "查看或管理任务", "see or manage jobs")
        return None


    def check_admin(self, principal: Principal, function: str) -> Problem | None:
        """A Problem unless the caller's role administers `function` (one of
        the `administers` names of config/gateway.yaml: accounts, audit, logs,
        config, backup)."""
        allowed = frozenset(role for role, functions in self.role_administers.items() if function in functions)
        return need_role(principal, allowed, f"使用系统管理功能（{function}）", f"use the administration of {function}")


def need_role(principal: Principal, allowed: frozenset[str], action_zh: str, action_en: str) -> Problem | None:
    if principal.role in allowed:
        return None
    roles = " / ".join(sorted(allowed)) or "-"
    if principal.is_anonymous:
        return Problem(401, "Unauthorized", f"{action_zh}需要访问令牌（角色：{roles}）",
                       f"An access token (role {roles}) is required to {action_en}", field="Authorization")
    return Problem(403, "Forbidden", f"当前角色（{principal.role}）无权{action_zh}，需要角色：{roles}",
                   f"Role '{principal.role}' may not {action_en}: it needs one of {roles}", field="Authorization")
