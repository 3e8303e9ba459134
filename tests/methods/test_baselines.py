"""The baselines together: every one honours `towers`, the acceptance sweep runs end to end, and
(slow) each forgets on the embedded default benchmark."""


import pytest

from tests.conftest import DEBUG, ROOT, job_dirs, read_metrics, run_cli
from tests.methods.helpers import changed, weights, without
from unlearn.methods import METHODS

BASELINES = ("original", "finetune", "grad_ascent", "neggrad_plus", "random_label", "salun", "scrub", "emmn")
# with the Lipschitz baseline of the space-adaptation paper (its own tests: test_lipschitz.py)
ALL_BASELINES = (*BASELINES, "lipschitz")
FORGETTING = tuple(m for m in ALL_BASELINES if m not in ("original", "finetune"))


@pytest.mark.parametrize("method", [m for m in ALL_BASELINES if m != "original"])
@pytest.mark.parametrize("towers", ["image", "text"])
def test_only_the_chosen_tower_trains(method_ctx, method, towers):
    ctx = method_ctx(method, towers=towers)
    before = weights(ctx.model)
    METHODS.get(method).run(ctx)
    moved = changed(before, weights(ctx.model))
    assert moved and all(k.startswith("visual.") == (towers == "image") for k in moved), sorted(moved)[:5]


@pytest.mark.parametrize("method", ["emmn", "lipschitz"])
def test_data_free_methods_unlearn_without_reading_any_training_image(method_ctx, debug_benchmark, method):
    task = without(debug_benchmark[3], "forget_train", "retain_train", "calib_forget", "calib_retain")
    ctx = method_ctx(method, task=task)
    before = weights(ctx.model)
    METHODS.get(method).run(ctx)
    assert changed(before, weights(ctx.model))


@pytest.mark.slow
def test_acceptance_sweep_writes_every_metrics_json(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", *DEBUG, f"method={','.join(BASELINES)}", f"hydra.sweep.dir={sweep}", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    metrics = {m["method"]: m for m in (read_metrics(job) for job in job_dirs(sweep))}
    assert set(metrics) == set(BASELINES)
    assert metrics["original"]["after"] == metrics["original"]["before"]


CLASS_LEVEL = ("emmn", "lipschitz")  # forget whole classes by construction: judged on class presets only


# ascent on the forget set pushes the whole class away, siblings included: the three-stage paper's
# case against it, and what they do here on colour subgroups (retain 35-39 %); the siblings of a
# coarse group, other shapes, they keep (test_quality_over_seeds.py)
OVER_FORGET_SIBLINGS = ("grad_ascent", "neggrad_plus")


@pytest.mark.slow
@pytest.mark.parametrize("forget", ["synthetic_subgroup_red_circle", "synthetic_class_circle"])
def test_every_forgetting_baseline_halves_forget_accuracy_through_the_cli(tmp_path, forget):
    """The path users run: one CLI sweep over the baselines on the embedded default (tiny_rn) with a
    subgroup and a class preset. Each at least halves forget accuracy and keeps 60 % of retain
    accuracy, except the ascent methods on a subgroup, which are held to over-forgetting it."""
    methods = [m for m in FORGETTING if "class" in forget or m not in CLASS_LEVEL]
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", "logger=none", f"forget={forget}", f"method={','.join(methods)}",
                   f"hydra.sweep.dir={sweep}", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = {m["method"]: m for m in (read_metrics(job) for job in job_dirs(sweep))}
    assert set(runs) == set(methods)
    for method, metrics in runs.items():
        before, after = metrics["before"], metrics["after"]
        assert after["forget/acc"] <= 0.5 * before["forget/acc"], (method, after)
        kept = after["retain/acc"] / before["retain/acc"]
        if "subgroup" in forget and method in OVER_FORGET_SIBLINGS:
            assert kept < 0.6, (method, after)
        else:
            assert kept >= 0.6, (method, after)
