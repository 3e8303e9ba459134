"""Gradient ascent (GA): maximise the zero-shot loss of the forget images.

The naive baseline of both papers: nothing holds the retain set in place, so it over-forgets.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.config.schema import MethodConfig
from unlearn.loops import Optimiser, batch_ce, trainable_and_head
from unlearn.methods import register


@dataclass
class GradAscentConfig(MethodConfig):
    lr: float = 1e-5
    steps: int = 30
    batch_size: int = 64


@register("grad_ascent", GradAscentConfig)
def grad_ascent(ctx) -> None:
    cfg, model = ctx.cfg, ctx.model
    params, head = trainable_and_head(ctx)
    forget = ctx.batches(ctx.task.forget_train, cfg.batch_size)
    Optimiser(ctx, params, cfg.lr).run(cfg.steps, lambda: {"train/neg_forget_ce": -batch_ce(model, head(), forget)})
