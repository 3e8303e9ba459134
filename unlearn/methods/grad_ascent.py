"""Gradient ascent (GA): maximise the zero-shot loss of the forget images.

The naive baseline of both papers: nothing holds the retain set in place, so it over-forgets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearn.config.schema import MethodConfig
from unlearn.losses import zeroshot_ce
from unlearn.methods import register
from unlearn.training import ClassHead, trainable_parameters


@dataclass
class GradAscentConfig(MethodConfig):
    lr: float = 1e-5
    steps: int = 30
    batch_size: int = 64


@register("grad_ascent", GradAscentConfig)
def grad_ascent(ctx) -> None:
    cfg, model = ctx.cfg, ctx.model
    params = trainable_parameters(model, cfg.towers)
    head = ClassHead(model, ctx.tokenizer, ctx.bench.classnames, ctx.bench.loss_templates, ctx.device,
                     text_trains=cfg.towers != "image")
    opt = torch.optim.Adam(params, lr=cfg.lr)
    batches = ctx.batches(ctx.task.forget_train, cfg.batch_size)
    for _ in range(ctx.steps(cfg.steps)):
        images, labels = next(batches)
        loss = -zeroshot_ce(model, images, labels, head())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ctx.log({"train/forget_loss": -loss.item()})
