import pytest

from unlearn.metrics import score, score_components

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
