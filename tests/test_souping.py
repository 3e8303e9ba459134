import pytest
import torch

from unlearn.errors import UnlearnError
from unlearn.models.factory import create_random
from unlearn.souping import choose_a, interpolate_states, plot_curve, soup_curve


def _states():
    torch.manual_seed(0)
    original = create_random("TinyRN").state_dict()
    unlearned = {k: v + torch.randn_like(v) if v.is_floating_point() else v + 3 for k, v in original.items()}
    return original, unlearned


def test_soup_endpoints_are_the_two_models_and_midpoint_is_the_mean():
    original, unlearned = _states()
    at_0 = interpolate_states(original, unlearned, 0.0)
    at_1 = interpolate_states(original, unlearned, 1.0)
    half = interpolate_states(original, unlearned, 0.5)
    floats = [k for k, v in original.items() if v.is_floating_point()]
    assert all(torch.equal(at_0[k], original[k]) for k in floats)
    assert all(torch.equal(at_1[k], unlearned[k]) for k in floats)
    assert all(torch.allclose(half[k], (original[k] + unlearned[k]) / 2) for k in floats)
    counters = [k for k in original if k not in floats]  # BatchNorm num_batches_tracked
    assert counters and all(torch.equal(at_0[k], unlearned[k]) for k in counters)


def test_soup_curve_loads_each_point_into_the_model():
    original, unlearned = _states()
    model = create_random("TinyRN")
    probe = "visual.attnpool.c_proj.weight"
    curve = soup_curve(model, original, unlearned, [0.5, 1.0],
                       lambda m: {"forget/acc": m.state_dict()[probe].sum().item(), "retain/acc": 1.0})
    assert [p["a"] for p in curve] == [0.0, 0.5, 1.0]
    assert curve[0]["forget/acc"] == pytest.approx(original[probe].sum().item(), abs=1e-3)
    assert curve[2]["forget/acc"] == pytest.approx(unlearned[probe].sum().item(), abs=1e-3)
    assert torch.equal(model.state_dict()[probe], unlearned[probe])  # left at the last point


CURVE = [  # a = 0 is the original model
    {"a": 0.0, "forget/acc": 1.0, "retain/acc": 1.0},
    {"a": 0.4, "forget/acc": 0.5, "retain/acc": 1.0},
    {"a": 0.6, "forget/acc": 0.0, "retain/acc": 0.8},
    {"a": 0.8, "forget/acc": 0.0, "retain/acc": 0.9},
    {"a": 1.0, "forget/acc": 0.0, "retain/acc": 0.7},
]


def test_choose_a_rules():
    assert choose_a(CURVE, "smallest_below", 0.05) == 0.6
    assert choose_a(CURVE, "best_retain_below", 0.05) == 0.8
    # run score (retain also stands in for zero-shot): 0.4 -> 0.75, 0.6 -> 0.86, 0.8 -> 0.93, 1.0 -> 0.78
    assert choose_a(CURVE, "best_score", 0.05) == 0.8
    # nothing reaches the target: the lowest forget accuracy, ties to the larger a
    assert choose_a(CURVE[:2], "smallest_below", 0.05) == 0.4
    assert choose_a(CURVE, "smallest_below", 0.6) == 0.4
    with pytest.raises(UnlearnError, match="soup grid is empty"):
        choose_a(CURVE[:1], "smallest_below", 0.05)


def test_plot_curve_writes_a_png(tmp_path):
    path = plot_curve(CURVE, 0.6, 0.05, tmp_path / "plots" / "soup_curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_best_score_maximises_the_chosen_objective():
    curve = [{"a": 0.0, "forget/acc": 1.0, "retain/acc": 1.0},
             {"a": 0.5, "forget/acc": 0.5, "retain/acc": 1.0},  # ours: 75.0, the paper's: 75.0
             {"a": 1.0, "forget/acc": 0.0, "retain/acc": 0.6}]  # ours: 69.2, the paper's: 80.0
    assert choose_a(curve, "best_score", 0.05) == 0.5
    assert choose_a(curve, "best_score", 0.05, objective="paper_score") == 1.0
