"""Gradient ascent (GA): maximise the zero-shot loss of the forget images.

The naive baseline of both papers: nothing holds the retain set in place, so it over-forgets.
Ascent is unbounded, so a fixed step budget either stops short or destroys everything; the loop
therefore ends once a forget batch is classified at or below `stop_acc` (null: run all `steps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from unlearn.config.ranges import at_least, fraction
from unlearn.config.schema import LoopConfig
from unlearn.loops import BatchAccuracy, Optimiser, trainable_and_head
from unlearn.methods import METHODS


@dataclass
class GradAscentConfig(LoopConfig):
    steps: int = at_least(1, 100)
    stop_acc: Optional[float] = fraction(0.05)  # end once a forget batch's accuracy is at most this


@METHODS.register("grad_ascent", GradAscentConfig, rank=20)
def grad_ascent(ctx) -> None:
    cfg, model = ctx.cfg, ctx.model
    params, head = trainable_and_head(ctx)
    forget = BatchAccuracy(model, ctx.batches(ctx.task.forget_train, cfg.batch_size))
    taken = Optimiser(ctx, params, cfg.lr).run(
        cfg.steps, lambda: {"train/neg_forget_ce": -forget.ce(head())},
        stop=None if cfg.stop_acc is None else lambda: forget.last <= cfg.stop_acc)
    ctx.summary({"grad_ascent/steps": taken})
