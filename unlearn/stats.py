"""Statistics the report cites: a 95 % interval for every mean, and paired tests between methods.

A unit is one (pretraining seed, seed) pair: the tiny CLIP a run started from and the run's own
seed. Two methods measured on the same units are compared unit by unit, which removes what the
units share (the same pretrained model, the same draws of the task).

| what | how | why |
|---|---|---|
| interval | Student's t interval of the mean, `scipy.stats.t.interval` (n − 1 degrees of freedom) | a handful of units: the normal interval would be too narrow |
| paired test | paired t-test over the shared units, `scipy.stats.ttest_rel`, two-sided | with n = 3-6 units the Wilcoxon signed-rank test cannot reach p < 0.05 at all (its smallest two-sided p is 0.25 at n = 3, 0.0625 at n = 5); the t-test can, assuming the per-unit differences are roughly normal |
| ties with the best | every row whose paired test against the best row gives p ≥ `ALPHA` | "not significantly different", not "equal" |

Identical differences on every unit (zero spread, as deterministic runs of equal models give) have
no t statistic: p = 1 when they are all 0, p = 0 otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable

import numpy as np

ALPHA = 0.05
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A mean over n units, its sample standard deviation and its 95 % t interval (None for n = 1)."""

    mean: float
    std: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def half_width(self) -> float | None:
        return None if self.high is None else self.high - self.mean


def estimate(values: list[float]) -> Estimate:
    from scipy import stats  # here: the report imports this module; a job never does

    array = np.asarray(values, dtype=float)
    mean, n = float(array.mean()), len(array)
    if n < 2:
        return Estimate(mean, None, None, None, n)
    std = float(array.std(ddof=1))
    if std == 0.0:
        return Estimate(mean, 0.0, mean, mean, n)
    low, high = stats.t.interval(CONFIDENCE, n - 1, loc=mean, scale=std / math.sqrt(n))
    return Estimate(mean, std, float(low), float(high), n)


@dataclass(frozen=True)
class Paired:
    """`a − b` over the units both have: the mean difference, its interval and the test's p."""

    difference: Estimate
    p: float | None  # None: fewer than 2 shared units

    @property
    def n(self) -> int:
        return self.difference.n


def paired(a: dict[Hashable, float], b: dict[Hashable, float]) -> Paired | None:
    """The paired comparison of two methods' values by unit; None when they share no unit."""
    from scipy import stats

    shared = sorted(set(a) & set(b), key=repr)
    if not shared:
        return None
    differences = np.array([a[u] - b[u] for u in shared], dtype=float)
    if len(shared) < 2:
        return Paired(estimate(list(differences)), None)
    if np.all(differences == differences[0]):
        p = 1.0 if differences[0] == 0 else 0.0
    else:
        p = float(stats.ttest_rel([a[u] for u in shared], [b[u] for u in shared]).pvalue)
    return Paired(estimate(list(differences)), p)


def best_and_ties(by_row: dict[Hashable, dict[Hashable, float]], higher_is_better: bool
                  ) -> tuple[Hashable | None, dict[Hashable, float | None]]:
    """The row with the best mean, and each other row's p against it (paired over shared units;
    None where they share fewer than 2 units). Rows without values are left out."""
    present = {row: units for row, units in by_row.items() if units}
    if not present:
        return None, {}
    sign = 1.0 if higher_is_better else -1.0
    best = max(present, key=lambda row: sign * float(np.mean(list(present[row].values()))))
    tests = {row: paired(units, present[best]) for row, units in present.items() if row != best}
    return best, {row: (test.p if test is not None else None) for row, test in tests.items()}


def tied_with_best(p: float | None) -> bool:
    """Not significantly different from the best row (an untestable comparison is not a tie)."""
    return p is not None and p >= ALPHA
