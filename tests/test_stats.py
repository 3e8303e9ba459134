"""unlearn.stats on cases with a known answer: t intervals, paired tests, the best and its ties."""

import math

import pytest
from scipy import stats as scipy_stats

from unlearn.stats import best_and_ties, estimate, paired, tied_with_best


def test_the_interval_is_students_t_and_absent_for_one_unit():
    found = estimate([10.0, 20.0, 30.0])
    half = scipy_stats.t.ppf(0.975, 2) * 10.0 / math.sqrt(3)
    assert (found.mean, found.std, found.n) == (20.0, 10.0, 3)
    assert found.low == pytest.approx(20.0 - half) and found.half_width == pytest.approx(half)
    assert estimate([5.0]).low is None and estimate([5.0]).half_width is None
    assert estimate([7.0, 7.0]).half_width == 0.0


def test_paired_tests_see_a_shift_the_spread_between_units_would_hide():
    base = {0: 10.0, 1: 50.0, 2: 90.0}  # units far apart: unpaired, 1 point is nothing
    shifted = {u: v + 1.0 + 0.1 * u for u, v in base.items()}
    test = paired(shifted, base)
    assert test.n == 3 and test.difference.mean == pytest.approx(1.1) and test.p < 0.01
    assert scipy_stats.ttest_ind(list(shifted.values()), list(base.values())).pvalue > 0.9
    assert paired(base, dict(base)).p == 1.0  # identical on every unit
    assert paired({u: v + 2 for u, v in base.items()}, base).p == 0.0  # the same shift on every unit
    assert paired(base, {5: 1.0}) is None and paired(base, {0: 1.0}).p is None  # nothing / one unit shared


def test_the_best_row_and_the_rows_no_test_can_tell_from_it():
    rows = {"a": {0: 90.0, 1: 80.0, 2: 70.0},
            "b": {0: 89.0, 1: 81.0, 2: 69.5},  # within noise of a
            "c": {0: 60.0, 1: 50.5, 2: 40.0}}  # 30 below on every unit
    best, p_values = best_and_ties(rows, higher_is_better=True)
    assert best == "a" and tied_with_best(p_values["b"]) and not tied_with_best(p_values["c"])
    assert best_and_ties(rows, higher_is_better=False)[0] == "c"
    assert not tied_with_best(None)  # an untestable comparison is no tie
