"""The land and sea use classification (用地用海分类): the one table of codes
and names, config/standards/landuse-classes.csv, shared by the plan-package
specification, the compliance check, the statistics and the map styles."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from onemap.core.registry import Text
from onemap.core.settings import config_dir


@dataclass(frozen=True)
class LandUseClass:
    code: str
    name: Text
    level: int
    parent: str | None


def classes_file(directory: Path | None = None) -> Path:
    return (directory or config_dir()) / "standards" / "landuse-classes.csv"


@cache
def load_classes(path: Path | None = None) -> dict[str, LandUseClass]:
    """Every class by code, in the table's order."""
    with open(path or classes_file(), encoding="utf-8") as f:
        return {row["code"]: LandUseClass(row["code"], Text(row["name_zh"], row["name_en"]), int(row["level"]),
                                          row["parent"] or None)
                for row in csv.DictReader(f)}


def names_zh() -> dict[str, str]:
    """Code -> Chinese name, as tables and reports show a class."""
    return {code: c.name.zh for code, c in load_classes().items()}
