"""unlearn/ulira.py on constructed shadows whose answer is known: identical sets give 50 %,
separable ones 100 %, a partial shift something between, and bad input one line."""

import numpy as np
import pytest

from unlearn.errors import UnlearnError
from unlearn.ulira import attack_accuracy, logit_confidence, per_image_accuracy


def test_identical_shadows_are_indistinguishable():
    same = np.tile(np.linspace(-2, 2, 50), (4, 1))
    assert np.all(per_image_accuracy(same, same.copy()) == 0.5)
    rng = np.random.default_rng(0)  # two sets drawn from one distribution: chance, within its interval
    found = attack_accuracy(rng.normal(0, 1, (6, 400)), rng.normal(0, 1, (6, 400)))
    assert 0.45 < found.mean < 0.55 and found.low < 0.5 < found.high


def test_separable_shadows_are_always_told_apart():
    rng = np.random.default_rng(1)
    found = attack_accuracy(rng.normal(3, 0.1, (3, 100)), rng.normal(-3, 0.1, (3, 100)))
    assert found.mean == 1.0 and found.n == 100


def test_a_partial_shift_is_between_chance_and_certainty_and_per_image():
    rng = np.random.default_rng(2)
    shift = np.r_[np.zeros(100), np.full(100, 4.0)]  # half the images moved by the unlearning, half not
    per_image = per_image_accuracy(rng.normal(shift, 1, (5, 200)), rng.normal(0, 1, (5, 200)))
    assert per_image[:100].mean() < 0.65 and per_image[100:].mean() > 0.9


def test_the_statistic_is_the_logit_of_the_confidence_and_finite_at_the_ends():
    assert logit_confidence(np.array([0.5]))[0] == 0.0
    assert logit_confidence(np.array([0.9]))[0] == pytest.approx(np.log(9))
    assert np.all(np.isfinite(logit_confidence(np.array([0.0, 1.0]))))


def test_too_few_models_or_mismatched_images_are_one_line():
    with pytest.raises(UnlearnError, match="at least 2 models of each kind"):
        per_image_accuracy(np.zeros((1, 5)), np.zeros((3, 5)))
    with pytest.raises(UnlearnError, match="over the same images"):
        per_image_accuracy(np.zeros((2, 5)), np.zeros((2, 4)))
