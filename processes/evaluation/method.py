"""The evaluation method as data (config/evaluation/*.yaml), checked when it
is loaded: every class a rule names belongs to its scale, every matrix is
complete, every factor is one the factor rasters provide. A fault is a
bilingual error naming the file and the part."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from onemap.core.errors import OneMapError, invalid
from onemap.core.settings import config_dir

# The factor rasters (评价因子) the demo load writes; a method may name only these.
FACTORS = ("elevation", "slope", "rainfall", "soil_texture", "soil_organic", "landcover",
           "ecological_source", "hazard_density", "distance_road", "distance_town")
SUITABILITY_MODELS = ("agriculture", "construction")
# 承载规模 parameters: the water available and what a hectare or a person uses
CAPACITY_NUMBERS = {"agriculture": ("water_available_m3", "irrigation_quota_m3_per_ha"),
                    "construction": ("water_available_m3", "per_capita_water_m3", "per_capita_land_m2")}


@dataclass(frozen=True)
class Grading:
    """A factor raster graded into a scale: index 0 is the best class."""

    name: str
    title: str
    factor: str
    scale: tuple[str, ...]
    breaks: tuple[float, ...] = ()
    descending: bool = False
    values: Mapping[int, int] | None = None     # category code -> class index

    def grade(self, values: np.ndarray) -> np.ndarray:
        if self.values is not None:
            out = np.full(values.shape, len(self.scale) - 1, dtype=np.int8)
            for code, index in self.values.items():
                out[values == code] = index
            return out
        # The class is the number of breaks passed, counted one comparison at a
        # time in int8: no (cells × breaks) temporary, no float64 copy of the values.
        out = np.zeros(values.shape, dtype=np.int8)
        for b in self.breaks:
            if self.descending:   # value >= break i -> class i
                out += values < _bound(values.dtype, b, up=True)
            else:                 # value <= break i -> class i
                out += values > _bound(values.dtype, b, up=False)
        return out


def _bound(dtype: np.dtype, b: float, up: bool) -> np.generic:
    """The break in the values' own type, so that comparing float32 values with
    it gives what comparing them with the float64 break gives: rounded up for
    `<`, down for `>` (float32 arithmetic is several times faster)."""
    if dtype != np.float32:
        return np.float64(b)
    bound = np.float32(b)
    if (float(bound) < b) if up else (float(bound) > b):
        bound = np.nextafter(bound, np.float32(np.inf if up else -np.inf))
    return bound


@dataclass(frozen=True)
class Condition:
    """Where a rule applies: a single factor in classes, a factor above a
    limit, or the ecological importance in classes."""

    single: str | None = None
    factor: str | None = None
    above: float | None = None
    ecology: tuple[int, ...] = ()
    classes: tuple[int, ...] = ()

    def holds(self, factors: Mapping[str, np.ndarray], grades: Mapping[str, np.ndarray],
              ecology: np.ndarray) -> np.ndarray:
        if self.single is not None:
            return np.isin(grades[self.single], self.classes)
        if self.factor is not None:
            return factors[self.factor] > self.above
        return np.isin(ecology, self.ecology)


@dataclass(frozen=True)
class Suitability:
    """农业生产 / 城镇建设适宜性: matrix, corrections, mapping, overrides."""

    name: str
    scale: tuple[str, ...]
    rows: str
    columns: str
    matrix: np.ndarray                         # grade index by (row class, column class)
    corrections: tuple[tuple[Condition, int], ...]   # (where, grades to lower; negative raises)
    mapping: np.ndarray                        # grade index -> suitability index
    overrides: tuple[tuple[Condition, int], ...]     # (where, suitability index)


@dataclass(frozen=True)
class Method:
    version: str
    title: Mapping[str, str]
    scales: Mapping[str, tuple[str, ...]]
    singles: Mapping[str, Grading]
    ecology_scale: tuple[str, ...]
    ecology: tuple[Grading, ...]
    suitability: Mapping[str, Suitability]
    carrying_capacity: Mapping[str, Mapping[str, Any]]
    source: str

    @property
    def factors(self) -> tuple[str, ...]:
        used = {g.factor for g in (*self.singles.values(), *self.ecology)}
        used |= {c.factor for s in self.suitability.values() for c, _ in s.overrides if c.factor}
        return tuple(f for f in FACTORS if f in used)


class MethodReader:
    """Reads one method file; every fault names the file and the part."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, part: str, zh: str, en: str) -> OneMapError:
        return invalid(f"method:{self.source}:{part}", f"评价方法 {self.source} 的 {part}：{zh}",
                       f"Evaluation method {self.source}, {part}: {en}")

    def get(self, node: Any, key: str, part: str, kind: type | tuple[type, ...] = object) -> Any:
        if not isinstance(node, dict) or key not in node:
            raise self.fail(f"{part}.{key}" if part else key, "缺少该项", "missing")
        value = node[key]
        if not isinstance(value, kind):
            raise self.fail(f"{part}.{key}" if part else key, "类型不对", "has the wrong type")
        return value

    def index(self, scale: tuple[str, ...], name: Any, part: str) -> int:
        if name not in scale:
            raise self.fail(part, f"未知的类别“{name}”，应为 {'/'.join(scale)} 之一",
                            f"unknown class '{name}', expected one of {', '.join(scale)}")
        return scale.index(name)

    def factor(self, name: Any, part: str) -> str:
        if name not in FACTORS:
            raise self.fail(part, f"未知的评价因子“{name}”，应为 {'、'.join(FACTORS)} 之一",
                            f"unknown factor '{name}', expected one of {', '.join(FACTORS)}")
        return name

    def grading(self, name: str, node: Any, scale: tuple[str, ...], part: str) -> Grading:
        factor = self.factor(self.get(node, "factor", part), f"{part}.factor")
        if "values" in node:
            values = self.get(node, "values", part, dict)
            return Grading(name, str(node.get("title", name)), factor, scale,
                           values={int(k): self.index(scale, v, f"{part}.values.{k}") for k, v in values.items()})
        breaks = self.get(node, "breaks", part, list)
        if len(breaks) != len(scale) - 1 or not all(isinstance(b, int | float) for b in breaks):
            raise self.fail(f"{part}.breaks", f"应为 {len(scale) - 1} 个数值（{len(scale)} 个类别）",
                            f"needs {len(scale) - 1} numbers for {len(scale)} classes")
        descending = bool(node.get("descending", False))
        if list(breaks) != sorted(breaks, reverse=descending):
            raise self.fail(f"{part}.breaks", "分级界值顺序不对", "the breaks are out of order")
        return Grading(name, str(node.get("title", name)), factor, scale, tuple(float(b) for b in breaks),
                       descending)

    def condition(self, node: dict, part: str, singles: Mapping[str, Grading],
                  ecology: tuple[str, ...]) -> Condition:
        if "single" in node:
            single = node["single"]
            if single not in singles:
                raise self.fail(f"{part}.single", f"未知的单项评价“{single}”", f"unknown single factor '{single}'")
            scale = singles[single].scale
            classes = self.get(node, "in", part, list)
            return Condition(single=single, classes=tuple(self.index(scale, c, f"{part}.in") for c in classes))
        if "factor" in node:
            above = self.get(node, "above", part, int | float)
            return Condition(factor=self.factor(node["factor"], f"{part}.factor"), above=float(above))
        classes = self.get(node, "ecology", part, list)
        return Condition(ecology=tuple(self.index(ecology, c, f"{part}.ecology") for c in classes))

    def suitability(self, name: str, node: Any, scales: Mapping[str, tuple[str, ...]],
                    singles: Mapping[str, Grading], ecology: tuple[str, ...]) -> Suitability:
        scale = self.scale(scales, self.get(node, "scale", name), f"{name}.scale")
        rows, columns = (singles.get(self.get(node, k, name)) for k in ("rows", "columns"))
        for key, single in (("rows", rows), ("columns", columns)):
            if single is None:
                raise self.fail(f"{name}.{key}", f"未知的单项评价“{node[key]}”", f"unknown single factor '{node[key]}'")
        grades = rows.scale
        matrix = self.get(node, "matrix", name, list)
        if len(matrix) != len(rows.scale) or any(not isinstance(r, list) or len(r) != len(columns.scale)
                                                 for r in matrix):
            raise self.fail(f"{name}.matrix", f"组合矩阵不完整：应为 {len(rows.scale)} 行 × {len(columns.scale)} 列"
                            f"（{rows.name} × {columns.name}）",
                            f"the combination matrix is incomplete: it needs {len(rows.scale)} rows × "
                            f"{len(columns.scale)} columns ({rows.name} × {columns.name})")
        cells = np.array([[self.index(grades, c, f"{name}.matrix[{i}][{j}]") for j, c in enumerate(r)]
                          for i, r in enumerate(matrix)], dtype=np.int8)
        corrections = []
        for i, c in enumerate(node.get("corrections") or []):
            part = f"{name}.corrections[{i}]"
            if not isinstance(c, dict) or ("lower" in c) == ("raise" in c):
                raise self.fail(part, "应给出 lower 或 raise 之一", "needs one of lower or raise")
            shift = int(c["lower"]) if "lower" in c else -int(c["raise"])
            corrections.append((self.condition(c, part, singles, ecology), shift))
        mapping = self.get(node, "mapping", name, dict)
        missing = [g for g in grades if g not in mapping]
        if missing:
            raise self.fail(f"{name}.mapping", f"缺少等级 {'、'.join(missing)} 的对应类别",
                            f"no class for grades {', '.join(missing)}")
        for g in mapping:
            self.index(grades, g, f"{name}.mapping")
        mapped = np.array([self.index(scale, mapping[g], f"{name}.mapping.{g}") for g in grades], dtype=np.int8)
        overrides = []
        for i, o in enumerate(node.get("overrides") or []):
            part = f"{name}.overrides[{i}]"
            if not isinstance(o, dict):
                raise self.fail(part, "应为对象", "must be a mapping")
            overrides.append((self.condition(o, part, singles, ecology),
                              self.index(scale, self.get(o, "class", part), f"{part}.class")))
        return Suitability(name, scale, rows.name, columns.name, cells, tuple(corrections), mapped,
                           tuple(overrides))

    def scale(self, scales: Mapping[str, tuple[str, ...]], name: Any, part: str) -> tuple[str, ...]:
        if name not in scales:
            raise self.fail(part, f"未知的分级“{name}”", f"unknown scale '{name}'")
        return scales[name]

    def method(self, doc: Any) -> Method:
        if not isinstance(doc, dict):
            raise self.fail("", "应为 YAML 对象", "must be a YAML mapping")
        version = str(self.get(doc, "version", "", str | int | float))
        scales = {k: tuple(v) for k, v in self.get(doc, "scales", "", dict).items()}
        singles = {name: self.grading(name, node, self.scale(scales, self.get(node, "scale", f"single_factors.{name}"),
                                                             f"single_factors.{name}.scale"),
                                      f"single_factors.{name}")
                   for name, node in self.get(doc, "single_factors", "", dict).items()}
        eco = self.get(doc, "ecology", "", dict)
        eco_scale = self.scale(scales, self.get(eco, "scale", "ecology"), "ecology.scale")
        components = tuple(self.grading(f"ecology.{i}", c, eco_scale, f"ecology.components[{i}]")
                           for i, c in enumerate(self.get(eco, "components", "ecology", list)))
        suitability = {name: self.suitability(name, self.get(doc, name, ""), scales, singles, eco_scale)
                       for name in SUITABILITY_MODELS}
        capacity = self.get(doc, "carrying_capacity", "", dict)
        for name in SUITABILITY_MODELS:
            node = self.get(capacity, name, "carrying_capacity", dict)
            for c in self.get(node, "classes", f"carrying_capacity.{name}", list):
                self.index(suitability[name].scale, c, f"carrying_capacity.{name}.classes")
            for key in CAPACITY_NUMBERS[name]:
                if self.get(node, key, f"carrying_capacity.{name}", int | float) <= 0:
                    raise self.fail(f"carrying_capacity.{name}.{key}", "应为正数", "must be positive")
        return Method(version, doc.get("title") or {"zh": version, "en": version}, scales, singles, eco_scale,
                      components, suitability, capacity, self.source)


def parse_method(doc: Any, source: str) -> Method:
    """A method from its YAML document; `source` names it in errors."""
    return MethodReader(source).method(doc)


def load_methods(directory: Path | None = None, kind: str = "double-evaluation",
                 parse: Any = None) -> dict[str, Any]:
    """Every method of a kind in config/evaluation/, by version."""
    parse = parse or parse_method
    directory = directory or config_dir() / "evaluation"
    methods: dict[str, Any] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise MethodReader(path.name).fail("", f"YAML 无法解析：{e}", f"is not valid YAML: {e}") from None
        if isinstance(doc, dict) and doc.get("kind", "double-evaluation") == kind:
            method = parse(doc, path.name)
            methods[method.version] = method
    return methods


def find_method(version: str | None, directory: Path | None = None, kind: str = "double-evaluation",
                parse: Any = None) -> Any:
    methods = load_methods(directory, kind, parse)
    if not methods:
        raise invalid("method", "未配置评价方法（config/evaluation/）", "No evaluation method is configured", 500)
    if version is None:
        return next(iter(methods.values()))
    if version not in methods:
        raise invalid("method", f"评价方法版本 {version} 不存在；可用：{'、'.join(methods)}",
                      f"No evaluation method version {version}; one of {', '.join(methods)}", 404)
    return methods[version]
