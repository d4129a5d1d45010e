"""The double evaluation as array expressions over one block of cells:
plain numpy in, class codes out, so the same function runs on a 4×4 test
case, a Dask chunk or a whole raster.

Class codes are the index in the scale plus one (1 = 适宜 / 极重要); 0 is
nodata: a cell where any factor the method reads is nodata."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from processes.evaluation.method import Method, Suitability

NODATA = 0
OUTPUTS = ("ecology", "agriculture", "construction")


def evaluate(method: Method, factors: Mapping[str, np.ndarray], valid: np.ndarray) -> dict[str, np.ndarray]:
    """Class codes of ecological importance and the two suitabilities.
    `valid`: cells inside the region where every factor has data."""
    grades = {name: g.grade(factors[g.factor]) for name, g in method.singles.items()}
    ecology = np.min([c.grade(factors[c.factor]) for c in method.ecology], axis=0).astype(np.int8)
    out = {"ecology": ecology}
    for name, model in method.suitability.items():
        out[name] = suitability(model, factors, grades, ecology)
    return {name: np.where(valid, out[name] + 1, NODATA).astype(np.uint8) for name in OUTPUTS}


def suitability(model: Suitability, factors: Mapping[str, np.ndarray], grades: Mapping[str, np.ndarray],
                ecology: np.ndarray) -> np.ndarray:
    """Suitability index: initial grade by the matrix, corrected, mapped,
    then the overrides in order (the last that holds wins)."""
    grade = model.matrix[grades[model.rows], grades[model.columns]].astype(np.int16)
    for where, shift in model.corrections:
        grade = np.where(where.holds(factors, grades, ecology), grade + shift, grade)
    grade = np.clip(grade, 0, len(model.mapping) - 1)
    out = model.mapping[grade]
    for where, index in model.overrides:
        out = np.where(where.holds(factors, grades, ecology), np.int8(index), out)
    return out
