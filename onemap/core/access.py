"""Who may see and do what: the access decision for a request, as plain
functions of the path, the caller's roles and the role data — the roles of
config/gateway.yaml plus the roles operators create (ops.role)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from onemap.core.auth import Principal
from onemap.core.errors import OneMapError, Problem, invalid
from onemap.core.registry import Layer, ProcessEntry, load_processes

_COLLECTION_PATH = re.compile(r"^/collections/([^/]+)")
_EXECUTION_PATH = re.compile(r"^/processes/([^/]+)/(execution|upload)/?$")
_JOBS_PATH = re.compile(r"^/jobs(/|$)")
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")
SENSITIVITIES = ("public", "internal")
ADMIN_FUNCTIONS = ("accounts", "audit", "logs", "config", "backup", "integration", "catalogue")
# 公众参与 the staff's rights on the public portal's input (/moderation/):
# each right and what it allows, in the words of a refusal
PARTICIPATION = {"moderate": ("审核公众意见", "moderate comments"),
                 "triage": ("处理违法线索举报", "triage violation reports"),
                 "publish": ("管理公开公示", "manage publications")}


@dataclass(frozen=True)
class Role:
    """A role and its permissions (权限)."""

    name: str
    zh: str
    en: str
    reads: frozenset[str]  # layer sensitivities
    layers: frozenset[str]  # further layer ids
    runs: frozenset[str]  # process ids
    all_jobs: bool
    administers: frozenset[str]
    participation: frozenset[str]  # rights of PARTICIPATION
    builtin: bool  # from config/gateway.yaml: not editable through the admin API

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "zh": self.zh, "en": self.en, "reads": sorted(self.reads),
                "layers": sorted(self.layers), "runs": sorted(self.runs),
                "jobs": "all" if self.all_jobs else "own", "administers": sorted(self.administers),
                "participation": sorted(self.participation), "builtin": self.builtin}


def role_from_spec(name: str, spec: Mapping[str, Any], layer_ids: Iterable[str],
                   process_ids: Iterable[str], builtin: bool = False) -> Role:
    """A role from its data (a gateway.yaml entry or an admin API body),
    checked against the known sensitivities, layers, processes and admin
    functions. Raises OneMapError (400, naming the field) on bad data."""
    if not isinstance(name, str) or not ROLE_NAME.match(name):
        raise invalid("name", "角色名应为 2–40 个小写字母、数字、- 或 _，以字母开头",
                      "A role name is 2-40 lowercase letters, digits, - or _, starting with a letter")
    if not isinstance(spec, Mapping):
        raise invalid(None, "角色定义应为 JSON 对象", "A role definition must be a JSON object")
    process_ids = list(process_ids)
    runs = spec.get("runs", [])
    if runs == "all":
        runs = process_ids
    jobs = spec.get("jobs", "own")
    if jobs not in ("own", "all"):
        raise invalid("jobs", "jobs 应为 own 或 all", "jobs must be 'own' or 'all'")
    zh, en = spec.get("zh", name), spec.get("en", name)
    if not (isinstance(zh, str) and zh.strip() and isinstance(en, str) and en.strip()):
        raise invalid("zh", "角色的中文名和英文名不能为空", "A role needs a Chinese and an English title")
    return Role(name=name, zh=zh.strip(), en=en.strip(),
                reads=_subset(spec, "reads", SENSITIVITIES, "图层密级", "layer sensitivities"),
                layers=_subset(spec, "layers", layer_ids, "图层", "layer ids"),
                runs=_subset({"runs": runs}, "runs", process_ids, "处理服务", "process ids"),
                all_jobs=jobs == "all",
                administers=_subset(spec, "administers", ADMIN_FUNCTIONS, "管理功能", "administration functions"),
                participation=_subset(spec, "participation", PARTICIPATION, "公众参与权限", "participation rights"),
                builtin=builtin)


def _subset(spec: Mapping[str, Any], key: str, known: Iterable[str], what_zh: str, what_en: str) -> frozenset[str]:
    values = spec.get(key) or []
    known = set(known)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise invalid(key, f"{key} 应为{what_zh}列表", f"{key} must be a list of {what_en}")
    unknown = sorted(set(values) - known)
    if unknown:
        raise invalid(key, f"未知的{what_zh}：{', '.join(unknown)}（可选：{', '.join(sorted(known))}）",
                      f"Unknown {what_en}: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return frozenset(values)


class AccessPolicy:
    """The one place that decides access. Built from the role data; the
    gateway swaps in the roles of ops.role when their version changes
    (`replace_custom_roles`), so blueprints holding this object see the
    change too."""

    def __init__(self, builtin_roles: dict[str, Role], anonymous_reads: frozenset[str],
                 sensitivity: dict[str, str], process_ids: tuple[str, ...]) -> None:
        self.builtin_roles = builtin_roles
        self.anonymous_reads = anonymous_reads
        self.sensitivity = sensitivity  # layer id -> sensitivity
        self.process_ids = process_ids
        self.roles: dict[str, Role] = dict(builtin_roles)

    @classmethod
    def from_config(cls, gateway: dict, layers: list[Layer],
                    processes: Iterable[ProcessEntry] | None = None) -> AccessPolicy:
        """The policy of the roles of config/gateway.yaml (`gateway`), for
        these layers and processes (those of config/processes.yaml when None)."""
        layer_ids = [layer.id for layer in layers]
        process_ids = tuple(p.id for p in (load_processes() if processes is None else processes))
        try:
            roles = {name: role_from_spec(name, spec, layer_ids, process_ids, builtin=True)
                     for name, spec in gateway["roles"].items()}
        except OneMapError as exc:
            raise ValueError(f"config/gateway.yaml roles: {exc.problem.en}") from exc
        return cls(roles, frozenset(gateway["anonymous_reads"]),
                   {layer.id: layer.sensitivity for layer in layers}, process_ids)

    def custom_role(self, name: str, spec: Mapping[str, Any]) -> Role:
        """A role an operator defines (admin API), checked against the
        registry; the names of config/gateway.yaml are taken."""
        if name in self.builtin_roles:
            raise invalid("name", f"角色 {name} 由配置文件定义，不能通过管理接口修改",
                          f"The role {name} is defined in config/gateway.yaml and cannot be changed here",
                          status=409)
        return role_from_spec(name, spec, self.sensitivity, self.process_ids)

    def replace_custom_roles(self, specs: Mapping[str, Mapping[str, Any]]) -> None:
        """Swap in the stored roles (one assignment: a request being decided
        sees either the old or the new set). A stored role that no longer
        fits the registry (a layer removed) keeps what still exists."""
        roles = dict(self.builtin_roles)
        for name, spec in specs.items():
            if name not in roles:
                clean = {**spec,
                         "layers": [x for x in spec.get("layers", []) if x in self.sensitivity],
                         "runs": [x for x in spec.get("runs", []) if x in self.process_ids]}
                roles[name] = role_from_spec(name, clean, self.sensitivity, self.process_ids)
        self.roles = roles

    def principal(self, name: str, roles: Iterable[str]) -> Principal:
        """The caller signed in as `name` with `roles`."""
        roles = frozenset(roles)
        return Principal(name, ",".join(sorted(roles)), roles, self.sees_all_jobs(roles))

    # --- what a caller's roles grant ---------------------------------------
    def _granted(self, principal: Principal) -> list[Role]:
        roles = self.roles
        return [roles[name] for name in principal.roles if name in roles]

    def reads(self, principal: Principal) -> frozenset[str]:
        if principal.is_anonymous:
            return self.anonymous_reads
        return frozenset().union(*(role.reads for role in self._granted(principal)))

    def may_read(self, principal: Principal, layer_id: str, sensitivity: str) -> bool:
        return (sensitivity in self.reads(principal)
                or any(layer_id in role.layers for role in self._granted(principal)))

    def participation(self, principal: Principal) -> frozenset[str]:
        """The PARTICIPATION rights the caller's roles grant."""
        return frozenset().union(*(role.participation for role in self._granted(principal)))

    def check_participation(self, principal: Principal, right: str) -> Problem | None:
        """A Problem unless a role of the caller has the PARTICIPATION `right`."""
        allowed = frozenset(r.name for r in self.roles.values() if right in r.participation)
        return need_role(principal, allowed, *PARTICIPATION[right])

    def sees_all_jobs(self, roles: Iterable[str]) -> bool:
        return any(self.roles[name].all_jobs for name in roles if name in self.roles)

    def audience(self, principal: Principal, names: Iterable[str] = ()) -> str:
        """Which generated configuration (pygeoapi, MapProxy, pycsw) serves
        this caller: internal for a reader of internal layers, or for a
        request that only names layers the caller was granted by id (each
        already checked) — so a role granted one internal layer reads it
        without the internal list showing it the others."""
        if "internal" in self.reads(principal):
            return "internal"
        granted = frozenset().union(*(role.layers for role in self._granted(principal)))
        return "internal" if any(name in granted for name in names) else "public"

    def check_collection_path(self, path: str, principal: Principal) -> Problem | None:
        """A Problem when `path` (under /ogc) names a layer the caller may not
        read: 401 without sign-in, 403 for a caller without the permission."""
        match = _COLLECTION_PATH.match(path)
        return self.check_layer(match.group(1), principal) if match else None

    @staticmethod
    def collection_of(path: str) -> tuple[str, ...]:
        match = _COLLECTION_PATH.match(path)
        return (match.group(1),) if match else ()

    def check_layer(self, name: str, principal: Principal,
                    sensitivity_of: dict[str, str] | None = None) -> Problem | None:
        """A Problem when the caller may not read the layer `name` (a layer id,
        or a name of `sensitivity_of`, e.g. a map group); None for unknown
        names, which the service behind answers with its own 404."""
        sensitivity = (sensitivity_of or self.sensitivity).get(name)
        if sensitivity is None or self.may_read(principal, name, sensitivity):
            return None
        if principal.is_anonymous:
            return Problem(401, "Unauthorized",
                           "该图层为内部数据，需要登录（用户名和密码，或访问令牌：Authorization: Bearer <令牌>，"
                           "或 HTTP Basic 以令牌为密码）",
                           "This layer is internal: sign in (user name and password, or an access token: "
                           "Authorization: Bearer <token>, or HTTP Basic with the token as the password)",
                           field="Authorization")
        allowed = " / ".join(sorted(r.name for r in self.roles.values()
                                    if sensitivity in r.reads or name in r.layers))
        return Problem(403, "Forbidden",
                       f"当前角色（{principal.role}）无权访问该图层，需要以下角色之一：{allowed}",
                       f"Role '{principal.role}' may not read this layer: it needs one of the roles {allowed}",
                       field="Authorization")

    def check_run(self, principal: Principal, process_id: str) -> Problem | None:
        """A Problem unless a role of the caller runs the process."""
        allowed = frozenset(r.name for r in self.roles.values() if process_id in r.runs)
        return need_role(principal, allowed, "运行该处理服务", "run this process")

    def check_process_path(self, path: str, method: str, principal: Principal) -> Problem | None:
        """Executing a process needs a role that runs it; jobs (status,
        results, dismissal) need a role that runs some process."""
        match = _EXECUTION_PATH.match(path)
        if match and method == "POST":
            if match.group(1) not in self.process_ids:
                return None  # unknown process: pygeoapi's 404
            return self.check_run(principal, match.group(1))
        if _JOBS_PATH.match(path):
            runners = frozenset(r.name for r in self.roles.values() if r.runs)
            return need_role(principal, runners, "查看或管理任务", "see or manage jobs")
        return None

    def check_admin(self, principal: Principal, function: str) -> Problem | None:
        """A Problem unless a role of the caller administers `function` (one
        of ADMIN_FUNCTIONS: accounts, audit, logs, config, backup, integration)."""
        allowed = frozenset(r.name for r in self.roles.values() if function in r.administers)
        return need_role(principal, allowed, f"使用系统管理功能（{function}）", f"use the administration of {function}")


def need_role(principal: Principal, allowed: frozenset[str], action_zh: str, action_en: str) -> Problem | None:
    if principal.roles & allowed:
        return None
    roles = " / ".join(sorted(allowed)) or "-"
    if principal.is_anonymous:
        return Problem(401, "Unauthorized", f"{action_zh}需要登录或访问令牌（角色：{roles}）",
                       f"Sign-in or an access token (role {roles}) is required to {action_en}",
                       field="Authorization")
    return Problem(403, "Forbidden", f"当前角色（{principal.role}）无权{action_zh}，需要角色：{roles}",
                   f"Role '{principal.role}' may not {action_en}: it needs one of {roles}", field="Authorization")
