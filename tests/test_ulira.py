"""unlearn/ulira.py on constructed shadows whose answer is known: identical sets give 50 %,
separable ones 100 %, a partial shift something between, and bad input one line; and
experiments/ulira.py (`make ulira`) end to end at a small configuration."""

import csv
import sys

import numpy as np
import pytest
import torch

from tests.conftest import ROOT
from unlearn.errors import UnlearnError
from unlearn.ulira import attack_accuracy, models_interval, own_class_log_odds, per_image_accuracy


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


def test_the_interval_across_models_of_identical_and_of_separable_sets_is_their_known_answer():
    same = np.tile(np.linspace(-2, 2, 50), (4, 1))
    assert models_interval(same, same.copy()) == (0.5, 0.5)
    rng = np.random.default_rng(4)
    assert models_interval(rng.normal(3, 0.1, (3, 100)), rng.normal(-3, 0.1, (3, 100))) == (1.0, 1.0)


def test_the_interval_across_models_is_wide_when_the_models_disagree():
    """Two unlearned groups far from retraining, one like it: every image agrees within a model,
    so the interval over the images is narrow, but which groups were drawn moves the accuracy from
    chance to near certainty, and the interval across models says so."""
    rng = np.random.default_rng(5)
    far, near = rng.normal(4, 1, (4, 300)), rng.normal(0, 1, (2, 300))
    unlearned, retrained, groups = np.vstack([far, near]), rng.normal(0, 1, (3, 300)), [0, 0, 1, 1, 2, 2]
    over_images = attack_accuracy(unlearned, retrained, groups=groups)
    low, high = models_interval(unlearned, retrained, groups=groups)
    assert over_images.high - over_images.low < 0.05 and low < 0.5 and high > 0.9


def test_the_statistic_is_the_log_odds_of_the_own_class_and_finite_where_the_softmax_saturates():
    logits = torch.tensor([[0.0, 0.0], [np.log(9), 0.0]])
    assert own_class_log_odds(logits, [0, 0]).tolist() == pytest.approx([0.0, np.log(9)])
    three = torch.tensor([[1.0, 2.0, 0.5]])
    p = torch.softmax(three, 1)[0, 1]
    assert own_class_log_odds(three, [1]).item() == pytest.approx(float(torch.log(p / (1 - p))), rel=1e-5)
    saturated = own_class_log_odds(torch.tensor([[500.0, 0.0], [0.0, 500.0]]), [0, 0])
    assert saturated.tolist() == [500.0, -500.0]  # a float32 softmax gives p = 1 and 0 here


def test_a_held_out_models_own_group_leaves_the_fit():
    """Runs of one pretraining seed share their original: left in the fit, a held-out model's twin
    would give it away. Twins per group, every group drawn like the retrained ones: chance."""
    rng = np.random.default_rng(3)
    groups_of_twins = np.repeat(rng.normal(0, 1, (4, 300)), 2, axis=0)
    retrained = rng.normal(0, 1, (4, 300))
    groups = np.repeat(np.arange(4), 2)
    fair = attack_accuracy(groups_of_twins, retrained, groups=groups)
    assert fair.low < 0.5 < fair.high
    assert attack_accuracy(groups_of_twins, retrained).low > 0.5  # each twin its own group: the leak


def test_too_few_models_or_mismatched_images_are_one_line():
    with pytest.raises(UnlearnError, match="at least 2 models of each kind"):
        per_image_accuracy(np.zeros((1, 5)), np.zeros((3, 5)))
    with pytest.raises(UnlearnError, match="over the same images"):
        per_image_accuracy(np.zeros((2, 5)), np.zeros((2, 4)))
    with pytest.raises(UnlearnError, match="at least 2 models of each kind"):  # two models, one group
        per_image_accuracy(np.zeros((2, 5)), np.zeros((3, 5)), groups=[7, 7])
    with pytest.raises(UnlearnError, match="one group per unlearned model"):
        per_image_accuracy(np.zeros((2, 5)), np.zeros((3, 5)), groups=[0])


def test_a_small_ulira_runs_end_to_end(tmp_path):
    """experiments/ulira.py through the CLI at debug sizes (2-step tiny CLIPs): every attacked
    method and the held-out retrained models get a row against the shadows."""
    sys.path.insert(0, str(ROOT / "experiments"))
    import ulira as experiment

    code = experiment.main(["--specs", "synthetic_class_arrow", "--methods", "original", "grad_ascent",
                            "--pretrain-seeds", "0", "1", "--seeds", "0", "--out", str(tmp_path),
                            "--runs", str(tmp_path / "runs"), "--extra", "backbone.pretrain.steps=2", "debug=default"])
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "ulira.csv").open()))
    assert [r["method"] for r in rows] == ["original", "grad_ascent", experiment.HELD_OUT]
    for r in rows:
        assert r["models"] == "2" and r["shadows"] == "2" and int(r["images"]) > 0
        assert float(r["low"]) <= float(r["attack acc"]) <= float(r["high"])
        assert 0 <= float(r["models low"]) <= float(r["models high"]) <= 1
    assert "## synthetic_class_arrow · tiny_rn" in (tmp_path / "ulira.md").read_text()
