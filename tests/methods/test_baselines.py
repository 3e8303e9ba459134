"""The baselines together: every one honours `towers`, the acceptance sweep runs end to end, and
(slow) each forgets on the embedded default benchmark."""

import copy

import pytest
import torch

from tests.conftest import DEBUG, ROOT, compose_config, job_dirs, read_metrics, run_cli
from tests.methods.helpers import changed, weights, without
from unlearn.data import build_benchmark
from unlearn.data.tasks import build_task
from unlearn.evaluation import Evaluator
from unlearn.loggers import NullLogger
from unlearn.methods import METHODS
from unlearn.methods.base import UnlearnContext
from unlearn.models.backbones import build_backbone
from unlearn.models.factory import eval_transform
from unlearn.runtime import seed_everything

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


@pytest.mark.slow
@pytest.mark.parametrize("forget", ["synthetic_subgroup_red_circle", "synthetic_class_circle"])
def test_every_forgetting_baseline_halves_forget_accuracy_on_the_default(forget):
    """In process on the embedded default (synthetic, tiny_rn) with a subgroup and a class preset,
    each method on a fresh copy."""
    cfg = compose_config("logger=none", f"forget={forget}")
    base, tokenizer = build_backbone(cfg.backbone)
    bench = build_benchmark(cfg.dataset, transform=eval_transform(base))
    task = build_task(bench, cfg.forget, cfg.task, cfg.seed)
    evaluate = Evaluator(bench, task, tokenizer, torch.device("cpu"), cfg.eval.batch_size)
    before, _ = evaluate(base)
    after = {}
    for method in ALL_BASELINES:
        model = copy.deepcopy(base)
        ctx = UnlearnContext(model=model, tokenizer=tokenizer, bench=bench, task=task,
                             cfg=compose_config("logger=none", f"forget={forget}", f"method={method}").method,
                             device=torch.device("cpu"), seed=cfg.seed, logger=NullLogger(), evaluate=evaluate)
        seed_everything(cfg.seed)
        METHODS.get(method).run(ctx)
        after[method] = evaluate(model)[0]
    assert after["original"] == before
    for method in FORGETTING:
        assert after[method]["forget/acc"] <= 0.5 * before["forget/acc"], (method, after[method])
