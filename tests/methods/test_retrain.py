"""retrain, the deep control: the tiny CLIP pretrained again without the forget spec's images, on its
own pretraining seed; other backbones are rejected with one line."""

import pytest

from tests.conftest import DEBUG, compose_config, read_metrics
from unlearn.errors import UnlearnError
from unlearn.methods import METHODS
from unlearn.models.tiny import checkpoint_name, retrained


def test_the_retrained_backbone_leaves_the_spec_out_on_its_own_seed():
    cfg = compose_config("forget=synthetic_subgroup_red_circle")
    backbone = retrained(cfg.backbone, cfg.forget, "synthetic", "method=retrain", 1000)
    assert backbone.pretrain.leave_out == {"classes": ["circle"], "attributes": {"colour": "red"}}
    assert backbone.pretrain.seed == cfg.backbone.pretrain.seed + 1000
    reference = retrained(cfg.backbone, cfg.forget, "synthetic", "audit.reference=retrain")
    # the control and the audit's reference are different models, each cached under its own name
    assert len({checkpoint_name(cfg.backbone), checkpoint_name(backbone), checkpoint_name(reference)}) == 3


@pytest.mark.parametrize("overrides", [("backbone=mini_rn",), ("backbone=rn50",)])
def test_a_backbone_that_cannot_be_retrained_here_is_rejected(method_ctx, overrides):
    ctx = method_ctx("retrain")
    cfg = compose_config(*DEBUG, *overrides)
    ctx.backbone, ctx.forget = cfg.backbone, cfg.forget
    with pytest.raises(UnlearnError, match=f"method=retrain pretrains a tiny CLIP .*backbone {cfg.backbone.name}"):
        METHODS.get("retrain").run(ctx)


def test_the_run_is_the_retrained_model(cli):
    """Through the CLI, on a 2-step pretraining recipe (the original too) so that it runs in seconds."""
    proc, run_dir = cli(*DEBUG, "method=retrain", "forget=synthetic_class_arrow", "backbone.pretrain.steps=2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = read_metrics(run_dir)
    assert metrics["summary"]["retrain/pretrain_seed"] == 1000
    assert metrics["after"] != metrics["before"]


@pytest.mark.slow
def test_retraining_without_a_class_forgets_it_and_keeps_the_rest(cli):
    """Full pretraining without the arrows (~5 min on one core the first time, cached after)."""
    proc, run_dir = cli("logger=none", "method=retrain", "forget=synthetic_class_arrow")
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after = read_metrics(run_dir)["before"], read_metrics(run_dir)["after"]
    assert after["forget/acc"] <= 0.05 and after["retain/acc"] >= 0.9 * before["retain/acc"]
    assert after["others/acc"] >= 0.9 * before["others/acc"]
