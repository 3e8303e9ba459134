"""grad_ascent: each step raises the forget loss."""

import itertools

import torch

from unlearn.loops import Optimiser, batch_ce, trainable_and_head
from unlearn.methods import METHODS


def test_ascent_step_raises_the_forget_loss(method_ctx):
    ctx = method_ctx("grad_ascent")
    params, head = trainable_and_head(ctx)
    batch = itertools.repeat(next(ctx.batches(ctx.task.forget_train, 16)))
    with torch.no_grad():
        before = batch_ce(ctx.model, head(), batch)
    Optimiser(ctx, params, lr=1e-4).step({"neg_ce": -batch_ce(ctx.model, head(), batch)})
    with torch.no_grad():
        assert batch_ce(ctx.model, head(), batch) > before


def test_ascent_stops_once_a_forget_batch_is_forgotten(method_ctx):
    ctx = method_ctx("grad_ascent", stop_acc=1.0, max_steps=50)  # any batch qualifies: one step
    summaries = {}
    ctx.logger.summary = summaries.update
    METHODS.get("grad_ascent").run(ctx)
    assert summaries["grad_ascent/steps"] == 1
    ctx = method_ctx("grad_ascent", stop_acc="null", max_steps=3)
    ctx.logger.summary = summaries.update
    METHODS.get("grad_ascent").run(ctx)
    assert summaries["grad_ascent/steps"] == 3
