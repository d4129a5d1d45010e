"""规划条件核对: a project's indicators against the planning conditions of the
detailed-plan plots (控规地块) its boundary lies on.

At 方案审查 and 工程报建 a project declares its floor-area ratio, building
density, height and green ratio (申报); at 规划条件核实 they are measured on
the finished buildings (实测). A `condition` rule names one indicator, the
plot field holding its limit and whether the limit is an upper (`max`: FAR,
density, height) or a lower one (`min`: green ratio); every plot the project
overlaps is judged, and the finding states both numbers and the plot codes.
The indicators themselves (names, units, plausible ranges) are data:
config/compliance.yaml `plot_indicators`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from onemap.core.errors import invalid
from onemap.core.registry import Text
from processes.compliance.overlay import OverlayRow
from processes.compliance.rules import Rule, RuleError, Verdicts

DECLARED = Text("申报", "declared")
MEASURED = Text("实测", "measured")
_SLACK = 1e-9   # limits are stated to a few decimals: float noise is no breach


@dataclass(frozen=True)
class Indicator:
    key: str
    name: Text
    unit: str
    low: float      # a value outside [low, high] is a typing error, refused
    high: float


@dataclass(frozen=True)
class PlotIndicators:
    """config/compliance.yaml `plot_indicators`."""

    items: dict[str, Indicator]
    measured_stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Declared:
    """A project's indicators as given with a check, and whether they were
    declared or measured."""

    values: Mapping[str, float] = field(default_factory=dict)
    measured: bool = False

    @property
    def basis(self) -> Text:
        return MEASURED if self.measured else DECLARED

    def as_dict(self) -> dict[str, Any]:
        return {"values": dict(self.values), "basis": self.basis.as_dict()}


NOTHING_DECLARED = Declared()


def load_indicators(settings: Mapping[str, Any]) -> PlotIndicators:
    section = settings.get("plot_indicators") or {}
    try:
        items = {str(key): Indicator(str(key), Text(str(e["zh"]), str(e["en"])), str(e.get("unit") or ""),
                                     float(e["min"]), float(e["max"]))
                 for key, e in (section.get("items") or {}).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise RuleError(f"compliance.yaml plot_indicators: missing or bad entry {exc}") from exc
    return PlotIndicators(items, tuple(section.get("measured_stages") or ()))


def check_rules(rules: list[Rule], spec: PlotIndicators) -> None:
    """Every condition rule names an indicator of the specification."""
    for rule in rules:
        if rule.relation == "condition" and rule.indicator not in spec.items:
            raise RuleError(f"rule {rule.id}: indicator {rule.indicator} is not in compliance.yaml plot_indicators "
                            f"({', '.join(spec.items)})")


def parse(value: Any, spec: PlotIndicators, stage: str) -> Declared:
    """The `indicators` input, validated: each a number in its plausible
    range; the field at fault named (indicators.rjl)."""
    measured = stage in spec.measured_stages
    if value in (None, "", {}):
        return Declared(measured=measured)
    keys = "、".join(f"{k}（{i.name.zh}）" for k, i in spec.items.items())
    if not isinstance(value, dict):
        raise invalid("indicators", f"indicators 应为对象，如 {{\"rjl\": 2.5, \"jzxg\": 60}}；可用：{keys}",
                      f"indicators must be an object such as {{\"rjl\": 2.5, \"jzxg\": 60}}; keys: {', '.join(spec.items)}")
    values = {}
    for key, raw in value.items():
        where = f"indicators.{key}"
        item = spec.items.get(key)
        if item is None:
            raise invalid(where, f"未知的项目指标“{key}”；可用：{keys}",
                          f"Unknown project indicator '{key}'; known: {', '.join(spec.items)}")
        number = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        if number is None or not math.isfinite(number):
            raise invalid(where, f"{item.name.zh}（{key}）应为数值，收到 {raw!r}",
                          f"The {item.name.en} ({key}) must be a number, got {raw!r}")
        if not item.low <= number <= item.high:
            raise invalid(where, f"{item.name.zh}（{key}）为 {number:g}{item.unit}，超出合理范围 "
                                 f"{item.low:g}–{item.high:g}{item.unit}",
                          f"The {item.name.en} ({key}) of {number:g}{item.unit} is outside the plausible range "
                          f"{item.low:g}-{item.high:g}{item.unit}")
        values[key] = float(number)
    return Declared(values, measured)


@dataclass(frozen=True)
class Judgement:
    verdict: str
    counted: list[tuple[OverlayRow, str]]     # every plot, with the declared value and its limit
    area_m2: float                            # of the plots with the finding's verdict
    numbers: dict[str, Any]                   # indicator, declared, limit, plots: into the finding
    message: Text


def _breaks(value: float, limit: float, bound: str) -> bool:
    return value > limit + _SLACK if bound == "max" else value < limit - _SLACK


def judge(rule: Rule, plots: list[OverlayRow], declared: Declared, spec: PlotIndicators,
          verdicts: Verdicts) -> Judgement:
    """One condition rule over the plots the project overlaps."""
    item = spec.items[str(rule.indicator)]
    value = declared.values.get(item.key)
    basis = declared.basis
    limits = [float(p.attributes[rule.condition_field]) for p in plots
              if p.attributes.get(rule.condition_field) is not None]
    strictest = (min(limits) if rule.bound == "max" else max(limits)) if limits else None
    cap = Text("上限", "limit") if rule.bound == "max" else Text("下限", "minimum")
    unit = item.unit
    numbers = {"indicator": item.key, "indicator_name": item.name.as_dict(), "bound": rule.bound,
               "basis": basis.as_dict(), "declared": value, "limit": strictest, "unit": unit, "plots": []}
    missing = str(rule.missing_verdict)
    if not plots:
        return Judgement(missing, [], 0.0, numbers, Text(
            f"项目用地不在控规地块上，无{item.name.zh}{cap.zh}可核对",
            f"The project lies on no detailed-plan plot: there is no {item.name.en} {cap.en} to check against"))
    judged = []
    for plot in plots:
        limit = plot.attributes.get(rule.condition_field)
        bad = value is not None and limit is not None and _breaks(value, float(limit), str(rule.bound))
        verdict = missing if value is None else (str(rule.verdict) if bad else verdicts.passed)
        judged.append((replace(plot, attributes={**plot.attributes, "declared": value, "limit": limit}), verdict))
    verdict = verdicts.worst([v for _, v in judged])
    concerned = [p for p, v in judged if v == verdict]
    codes = [str(p.attributes.get("dkbh") or p.feature_id) for p in concerned]
    numbers["plots"] = codes
    if verdict != verdicts.passed and value is not None:
        numbers["limit"] = (min if rule.bound == "max" else max)(float(p.attributes["limit"]) for p in concerned)
    shown = "、".join(codes[:5]) + ("等" if len(codes) > 5 else "")
    limit_text = f"{numbers['limit']:g}{unit}"
    if value is None:
        message = Text(f"未{basis.zh}{item.name.zh}（indicators.{item.key}），未核对地块 {shown} 的{item.name.zh}"
                       f"{cap.zh} {limit_text}",
                       f"No {basis.en} {item.name.en} given (indicators.{item.key}): the {cap.en} of {limit_text} "
                       f"of plot(s) {', '.join(codes[:5])} was not checked")
    elif verdict == verdicts.passed:
        message = Text(f"{basis.zh}{item.name.zh} {value:g}{unit}，符合地块 {shown} 的{cap.zh} {limit_text}",
                       f"The {basis.en} {item.name.en} of {value:g}{unit} meets the {cap.en} of {limit_text} "
                       f"of plot(s) {', '.join(codes[:5])}")
    else:
        values = {"basis": basis.zh, "declared": f"{value:g}", "limit": f"{numbers['limit']:g}", "unit": unit,
                  "plots": shown}
        english = {**values, "basis": basis.en, "plots": ", ".join(codes[:5])}
        message = Text(rule.message.zh.format(**values), rule.message.en.format(**english))
    area = sum(p.overlap_m2 for p in concerned)
    return Judgement(verdict, judged, area, numbers, message)
