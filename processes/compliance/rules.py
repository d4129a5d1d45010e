"""Rule sets (规则集) and the land-use compatibility matrix, as data.

config/rules/*.yaml hold one rule set per group of business stages and the
compatibility matrix; config/compliance.yaml the verdict levels and limits.
This module turns them into typed, validated values; nothing here knows SQL.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onemap.core.registry import Layer, Text
from onemap.core.settings import config_dir, load_yaml

RELATIONS = ("intersects", "within", "outside", "distance", "condition")
BOUNDS = ("max", "min")       # a condition's limit is an upper or a lower one
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class RuleError(ValueError):
    """A rule file that cannot be used (the message names file and rule)."""


@dataclass(frozen=True)
class Verdicts:
    """The verdict levels, mildest first (通过 … 禁止)."""

    levels: tuple[str, ...]
    english: dict[str, str]

    @property
    def passed(self) -> str:
        return self.levels[0]

    def rank(self, level: str) -> int:
        return self.levels.index(level)

    def worst(self, levels: list[str]) -> str:
        return max(levels, key=self.rank, default=self.passed)


@dataclass(frozen=True)
class Compatibility:
    """用地用海兼容性矩阵: the level of a project use on a planned use."""

    version: str
    same_class: str
    conditional_level: str
    default: str
    entries: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # (planned prefix, compatible, conditional)
    digest: str

    def level(self, planned: str, project: str) -> str:
        matches = [e for e in self.entries if planned.startswith(e[0])]
        if matches:
            _, compatible, conditional = max(matches, key=lambda e: len(e[0]))
            if any(project.startswith(p) for p in compatible):
                return self.same_class
            if any(project.startswith(p) for p in conditional):
                return self.conditional_level
        if planned[:2] == project[:2]:
            return self.same_class
        return self.default


@dataclass(frozen=True)
class Rule:
    id: str
    title: Text
    layer: str
    relation: str
    verdict: str | None               # None: judged by the compatibility matrix
    message: Text
    tolerance_m2: float = 1.0
    buffer_m: float = 0.0
    filter_field: str | None = None
    filter_prefixes: tuple[str, ...] = ()
    compatibility: str | None = None  # the layer's code field judged by the matrix
    use_codes: tuple[str, ...] = ()
    except_use_codes: tuple[str, ...] = ()
    # relation `condition` (processes/compliance/conditions.py): the project
    # indicator, the plot field holding its limit, max or min, and the
    # verdict when the indicator is not given or no plot is there
    indicator: str | None = None
    condition_field: str | None = None
    bound: str | None = None
    missing_verdict: str | None = None
    # said (and the rule passed, unchecked) while the layer holds no feature
    # at all: a layer a run fills, e.g. the latest evaluation's results
    when_empty: Text | None = None

    def applies_to(self, use_code: str) -> bool:
        if self.use_codes and not any(use_code.startswith(c) for c in self.use_codes):
            return False
        return not any(use_code.startswith(c) for c in self.except_use_codes)

    def as_dict(self) -> dict[str, Any]:
        condition = ({"condition": {"indicator": self.indicator, "field": self.condition_field, "bound": self.bound,
                                    "missing_verdict": self.missing_verdict}} if self.relation == "condition" else {})
        return {**condition, "id": self.id, "title": self.title.as_dict(), "layer": self.layer,
                "relation": self.relation, "verdict": self.verdict, "tolerance_m2": self.tolerance_m2,
                "buffer_m": self.buffer_m, "filter": {"field": self.filter_field,
                                                      "prefixes": list(self.filter_prefixes)},
                "compatibility": self.compatibility, "use_codes": list(self.use_codes),
                "except_use_codes": list(self.except_use_codes), "message": self.message.as_dict(),
                **({"when_empty": self.when_empty.as_dict()} if self.when_empty else {})}


@dataclass(frozen=True)
class RuleSet:
    id: str
    stages: tuple[str, ...]
    title: Text
    version: str
    rules: tuple[Rule, ...]
    compatibility: Compatibility
    digest: str = field(default="")  # sha256 of the resolved rules and the matrix

    def describe(self) -> dict[str, Any]:
        """What a result records about the rules it was judged by."""
        return {"id": self.id, "title": self.title.as_dict(), "version": self.version,
                "compatibility_version": self.compatibility.version, "sha256": self.digest}


def _text(value: Any, where: str) -> Text:
    if not isinstance(value, dict) or not {"zh", "en"} <= value.keys():
        raise RuleError(f"{where}: needs zh and en texts")
    return Text(zh=str(value["zh"]), en=str(value["en"]))


def _codes(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or ()))


def load_verdicts(path: Path | None = None) -> Verdicts:
    entries = load_yaml(path or config_dir() / "compliance.yaml")["verdicts"]
    return Verdicts(levels=tuple(e["level"] for e in entries), english={e["level"]: e["en"] for e in entries})


def _rule(entry: dict, where: str, verdicts: Verdicts, layers: dict[str, Layer]) -> Rule:
    rid = entry.get("id") or "?"
    where = f"{where}, rule {rid}"
    try:
        flt = entry.get("filter") or {}
        condition = entry.get("condition") or {}
        rule = Rule(
            id=str(entry["id"]), title=_text(entry.get("title"), where), layer=str(entry["layer"]),
            relation=str(entry["relation"]), verdict=entry.get("verdict"),
            message=_text(entry.get("message"), where),
            tolerance_m2=float(entry.get("tolerance_m2", 1.0)), buffer_m=float(entry.get("buffer_m", 0.0)),
            filter_field=flt.get("field"), filter_prefixes=_codes(flt.get("prefixes")),
            compatibility=entry.get("compatibility"),
            use_codes=_codes(entry.get("use_codes")), except_use_codes=_codes(entry.get("except_use_codes")),
            indicator=condition.get("indicator"), condition_field=condition.get("field"),
            bound=condition.get("bound"),
            missing_verdict=condition.get("missing_verdict", verdicts.levels[1]) if condition else None,
            when_empty=_text(entry["when_empty"], where) if "when_empty" in entry else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RuleError(f"{where}: missing or bad entry {exc}") from exc
    if rule.relation not in RELATIONS:
        raise RuleError(f"{where}: relation must be one of {RELATIONS}")
    if rule.layer not in layers:
        raise RuleError(f"{where}: layer {rule.layer} is not in config/layers.yaml")
    if rule.compatibility is None and rule.verdict not in verdicts.levels:
        raise RuleError(f"{where}: verdict must be one of {verdicts.levels}")
    if rule.compatibility is not None and rule.relation != "intersects":
        raise RuleError(f"{where}: compatibility needs relation intersects")
    if rule.relation == "condition" and (rule.indicator is None or rule.bound not in BOUNDS
                                         or rule.condition_field is None
                                         or rule.missing_verdict not in verdicts.levels):
        raise RuleError(f"{where}: relation condition needs condition {{indicator, field, bound: max|min, "
                        f"missing_verdict: one of {verdicts.levels}}}")
    if rule.relation == "distance" and rule.buffer_m <= 0:
        raise RuleError(f"{where}: relation distance needs buffer_m > 0")
    fields = set(layers[rule.layer].key_fields)
    for name in (rule.filter_field, rule.compatibility, rule.condition_field):
        # field names end up in SQL: only identifiers the registry lists
        if name is not None and (not _IDENT.match(name) or name not in fields):
            raise RuleError(f"{where}: field {name} is not a key field of layer {rule.layer}")
    return rule


def load_compatibility(path: Path, verdicts: Verdicts) -> Compatibility:
    data = load_yaml(path)
    entries = tuple((str(prefix), _codes(e.get("compatible")), _codes(e.get("conditional")))
                    for e in data["entries"] for prefix in e["planned"])
    levels = (data["same_class"], data["conditional_level"], data["default"])
    if any(level not in verdicts.levels for level in levels):
        raise RuleError(f"{path}: levels must be among {verdicts.levels}")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return Compatibility(version=str(data["version"]), same_class=levels[0], conditional_level=levels[1],
                         default=levels[2], entries=entries, digest=digest)


def load_rule_sets(rules_dir: Path, layers: list[Layer], verdicts: Verdicts) -> dict[str, RuleSet]:
    """Every rule set of `rules_dir`, by id, with `extends` resolved."""
    compatibility = load_compatibility(rules_dir / "compatibility.yaml", verdicts)
    by_layer = {layer.id: layer for layer in layers}
    raw = {}
    for path in sorted(rules_dir.glob("*.yaml")):
        if path.name == "compatibility.yaml":
            continue
        data = load_yaml(path)
        if not isinstance(data, dict) or "id" not in data:
            raise RuleError(f"{path.name}: a rule set needs an id")
        if data["id"] in raw:
            raise RuleError(f"{path.name}: duplicate rule set id {data['id']}")
        raw[data["id"]] = (path.name, data)

    def resolve(set_id: str, seen: tuple[str, ...]) -> list[Rule]:
        name, data = raw[set_id]
        rules: list[Rule] = []
        parent = data.get("extends")
        if parent:
            if parent not in raw or parent in seen:
                raise RuleError(f"{name}: extends unknown or circular rule set {parent}")
            removed = set(data.get("remove") or ())
            rules = [r for r in resolve(parent, (*seen, set_id)) if r.id not in removed]
        for entry in data.get("rules") or ():
            rule = _rule(entry, name, verdicts, by_layer)
            rules = [r for r in rules if r.id != rule.id] + [rule]
        if not rules:
            raise RuleError(f"{name}: rule set {set_id} has no rules")
        return rules

    sets: dict[str, RuleSet] = {}
    stages: dict[str, str] = {}
    for set_id, (name, data) in raw.items():
        rules = tuple(resolve(set_id, ()))
        digest = hashlib.sha256(json.dumps(
            {"version": data.get("version"), "rules": [r.as_dict() for r in rules],
             "compatibility": compatibility.digest}, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        try:
            rule_set = RuleSet(id=set_id, stages=tuple(data["stages"]), title=_text(data.get("title"), name),
                               version=str(data["version"]), rules=rules, compatibility=compatibility,
                               digest=digest)
        except KeyError as exc:
            raise RuleError(f"{name}: missing {exc}") from exc
        for stage in rule_set.stages:
            if stage in stages:
                raise RuleError(f"{name}: stage {stage} already has rule set {stages[stage]}")
            stages[stage] = set_id
        sets[set_id] = rule_set
    return sets


def rule_set_for(sets: dict[str, RuleSet], stage: str) -> RuleSet | None:
    """The rule set of a business stage, named in Chinese (用地预审) or by id."""
    for rule_set in sets.values():
        if stage in rule_set.stages or stage == rule_set.id:
            return rule_set
    return None
