"""The land and sea use classification (用地用海分类, 2023 edition, three
levels) and the land survey's working classification (三调工作分类) of current
land use, with the crosswalk between them — each one table under
config/standards/, loaded once, shared by the plan-package specification,
the compliance check, the statistics, the comparisons and the map styles.

Planning codes have 2, 4 or 6 digits (level 1, 2, 3); a class's parent is
the code two digits shorter. Current land use (DLTB) keeps the survey's own
codes (0601 there is 工业用地, not 农村道路); whatever compares it with the
plan maps it through the crosswalk, whose `kind` says how exact a mapping is:
`same` (the same class), `class` (a survey class that is a whole planning
class), `approx` (only roughly the same: reported as such).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from psycopg import sql

from onemap.core.registry import Text
from onemap.core.settings import config_dir

LANDUSE = "landuse"       # a layer's codes are planning codes
SURVEY = "survey"         # … survey codes (三调工作分类)
CLASSIFICATIONS = (LANDUSE, SURVEY)
APPROX = "approx"
DIGITS = {1: 2, 2: 4, 3: 6}   # code length by level


@dataclass(frozen=True)
class LandUseClass:
    code: str
    name: Text
    level: int
    parent: str | None


@dataclass(frozen=True)
class SurveyClass:
    """A class of the survey's working classification and its planning
    class through the crosswalk."""

    code: str
    name_zh: str
    landuse_code: str
    kind: str                 # same / class / approx


def classes_file(directory: Path | None = None) -> Path:
    return (directory or config_dir()) / "standards" / "landuse-classes.csv"


def crosswalk_file(directory: Path | None = None) -> Path:
    return (directory or config_dir()) / "standards" / "survey-to-landuse.csv"


@cache
def load_classes(path: Path | None = None) -> dict[str, LandUseClass]:
    """Every class by code, in the table's order."""
    with open(path or classes_file(), encoding="utf-8") as f:
        return {row["code"]: LandUseClass(row["code"], Text(row["name_zh"], row["name_en"]), int(row["level"]),
                                          row["parent"] or None)
                for row in csv.DictReader(f)}


@cache
def load_crosswalk(path: Path | None = None) -> dict[str, SurveyClass]:
    """Every survey class by code, with its planning class."""
    with open(path or crosswalk_file(), encoding="utf-8") as f:
        return {row["survey_code"]: SurveyClass(row["survey_code"], row["survey_name_zh"], row["landuse_code"],
                                                row["kind"])
                for row in csv.DictReader(f)}


def names_zh() -> dict[str, str]:
    """Code -> Chinese name, as tables and reports show a class."""
    return {code: c.name.zh for code, c in load_classes().items()}


def survey_names_zh() -> dict[str, str]:
    """Survey code -> Chinese name (DLMC)."""
    return {code: c.name_zh for code, c in load_crosswalk().items()}


def lineage(code: str) -> tuple[str, ...]:
    """The code and its ancestors, nearest first: 100101, 1001, 10."""
    classes = load_classes()
    chain = []
    current: str | None = code
    while current is not None and current in classes:
        chain.append(current)
        current = classes[current].parent
    return tuple(chain)


def at_level(code: str, level: int) -> str:
    """The class of `code` at `level` (a class of a higher level than asked
    stays itself: 16 留白用地 has no children)."""
    return code[:DIGITS[level]]


def to_landuse(survey_code: str) -> SurveyClass | None:
    """The planning class of a survey code (None: not a survey code)."""
    return load_crosswalk().get(survey_code)


def survey_code_of(landuse_code: str) -> str | None:
    """The survey code whose planning class is `landuse_code`, exactly or as a
    whole class (for writing survey-coded data from planning-coded models)."""
    return next((c.code for c in load_crosswalk().values()
                 if c.landuse_code == landuse_code and c.kind != APPROX), None)


def _case(column: sql.Composable, value: str, otherwise: sql.Composable) -> sql.Composable:
    cases = sql.SQL(" ").join(sql.SQL("WHEN {} THEN {}").format(sql.Literal(c.code), sql.Literal(getattr(c, value)))
                              for c in load_crosswalk().values())
    return sql.SQL("(CASE {} {} ELSE {} END)").format(column, cases, otherwise)


def landuse_code_sql(column: sql.Composable) -> sql.Composable:
    """SQL: the planning code of a survey-coded column, through the
    crosswalk (an unknown code stays as it is, so it shows, not vanishes)."""
    return _case(column, "landuse_code", column)


def crosswalk_kind_sql(column: sql.Composable) -> sql.Composable:
    """SQL: the kind of the mapping (same / class / approx; NULL: unknown)."""
    return _case(column, "kind", sql.NULL)


def approx_sql(column: sql.Composable) -> sql.Composable:
    """SQL: whether a survey-coded column maps only approximately."""
    approx = [c.code for c in load_crosswalk().values() if c.kind == APPROX]
    return sql.SQL("({} = ANY({}))").format(column, sql.Literal(approx))
