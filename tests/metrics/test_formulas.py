import csv

import pytest

from tests.conftest import ROOT
from unlearn.metrics import average_gain, paper_score, score, score_components

BEFORE = {"forget/acc": 0.9, "retain/acc": 0.8, "others/acc": 0.9, "zeroshot/a/acc": 0.5, "zeroshot/b/acc": 0.4}


def test_perfect_unlearning_scores_100():
    after = dict(BEFORE, **{"forget/acc": 0.0})
    assert score(BEFORE, after) == pytest.approx(100.0)


def test_no_change_scores_zero():
    assert score(BEFORE, BEFORE) == 0.0


def test_harmonic_mean_of_clipped_terms():
    after = {"forget/acc": 0.45, "retain/acc": 0.9, "others/acc": 0.9, "zeroshot/a/acc": 0.25, "zeroshot/b/acc": 0.4}
    parts = score_components(BEFORE, after)
    assert parts == pytest.approx({"forget_efficacy": 0.5, "retain_ratio": 1.0, "zeroshot_ratio": 0.75})
    assert score(BEFORE, after) == pytest.approx(100 * 3 / (1 / 0.5 + 1 + 1 / 0.75))


def test_paper_score_and_average_gain_on_a_constructed_case():
    after = {"forget/acc": 0.45, "retain/acc": 0.9, "others/acc": 0.45, "zeroshot/a/acc": 0.25, "zeroshot/b/acc": 0.4}
    # terms: efficacy 0.5; ratios retain 1 (clipped), others 0.5, a 0.5, b 1
    assert paper_score(BEFORE, after) == pytest.approx(100 * (0.5 + 1 + 0.5 + 0.5 + 1) / 5)
    # terms: forget ratio 0.5; drops retain 0 (clipped), a 0.5, b 0
    assert average_gain(BEFORE, after) == pytest.approx(100 * (0.5 + 0 + 0.5 + 0) / 4)
    assert paper_score(BEFORE, dict(BEFORE, **{"forget/acc": 0.0})) == pytest.approx(100.0)
    assert average_gain(BEFORE, dict(BEFORE, **{"forget/acc": 0.0})) == pytest.approx(0.0)


def _published(table: str, backbone: str) -> tuple[dict, dict]:
    """(original accuracies, {method: (accuracies, published Score)}) of a table of the reference CSV."""
    path = ROOT / "experiments" / "reference" / "three_stage_zhang2025.csv"
    with path.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["table"] == table and r["backbone"] == backbone]
    accuracies = [{k: float(v) / 100 for k, v in r.items() if k.endswith("/acc") and v} for r in rows]
    original = next(a for a, r in zip(accuracies, rows) if r["method"] == "original")
    return original, {r["method"]: (a, float(r["paper_score"])) for a, r in zip(accuracies, rows) if r["paper_score"]}


def test_paper_score_reproduces_every_rn50_row_of_table_a():
    original, rows = _published("A", "rn50")
    assert set(rows) == {"grad_ascent", "emmn", "lipschitz", "three_stage"}
    for method, (after, published) in rows.items():
        assert paper_score(original, after) == pytest.approx(published, abs=0.1), method
