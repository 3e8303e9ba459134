"""mask_name, the shallow control: only the forget names' token rows change; the class's zero-shot
accuracy falls while everything else stays; a subgroup spec is rejected with one line."""

import dataclasses

import torch

from tests.conftest import DEBUG, read_metrics
from tests.methods.helpers import changed, weights
from unlearn.methods import METHODS
from unlearn.methods.mask_name import name_tokens


def test_only_the_forget_names_token_rows_change(method_ctx):
    task = method_ctx("mask_name").task
    ctx = method_ctx("mask_name", task=dataclasses.replace(task, forget_whole_classes=True))  # the class circle's names
    before = weights(ctx.model)
    METHODS.get("mask_name").run(ctx)
    after = weights(ctx.model)
    assert changed(before, after) == {"token_embedding.weight"}
    rows = torch.nonzero((before["token_embedding.weight"] != after["token_embedding.weight"]).any(1)).flatten().tolist()
    names = [ctx.bench.classnames[c] for c in ctx.task.forget_classes]
    kept = name_tokens(ctx.tokenizer, [ctx.bench.classnames[c] for c in ctx.kept_classes])
    assert rows and set(rows) == name_tokens(ctx.tokenizer, names) - kept
    assert ctx.summaries["mask_name/tokens"] == len(rows)


def test_a_masked_class_is_forgotten_zero_shot_and_nothing_else_moves(cli):
    proc, run_dir = cli(*DEBUG, "method=mask_name", "forget=synthetic_class_arrow")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = read_metrics(run_dir)
    before, after = metrics["before"], metrics["after"]
    assert after["forget/acc"] <= 0.2 * before["forget/acc"]
    assert after["retain/acc"] >= before["retain/acc"] - 0.01 and after["others/acc"] >= before["others/acc"] - 0.01


def test_a_colour_subgroup_is_rejected_with_one_line(cli):
    proc, run_dir = cli(*DEBUG, "method=mask_name", "forget=synthetic_subgroup_red_circle")
    assert proc.returncode != 0 and not (run_dir / "metrics.json").exists()
    assert ("method=mask_name forgets whole classes only; forget=synthetic_subgroup_red_circle is a part of its class"
            in proc.stderr)
    assert "Traceback" not in proc.stderr


def test_a_draw_that_leaves_the_class_named_is_drawn_again(cli):
    """On tiny_rn pretraining seed 1 the first draw left the arrows named (57 % in the committed
    meta-evaluation before redraws existed); drawing again reaches the threshold."""
    args = (*DEBUG, "method=mask_name", "forget=synthetic_class_arrow", "backbone.pretrain.seed=1")
    proc, run_dir = cli(*args, "method.max_draws=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert read_metrics(run_dir)["summary"]["mask_name/forget_acc"] > 0.05  # one draw is not enough here
    proc, run_dir = cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = read_metrics(run_dir)
    assert metrics["summary"]["mask_name/draws"] > 1 and metrics["summary"]["mask_name/forget_acc"] <= 0.05
    assert metrics["after"]["forget/acc"] <= 0.05 and metrics["after"]["others/acc"] >= metrics["before"]["others/acc"] - 0.01
