"""SalUn: saliency-based unlearning (Fan et al., ICLR 2024).

A weight saliency map — the magnitude of the forget loss's gradient, |∇θ L(forget)| — picks the
top `mask_ratio` fraction of the trainable weights (one global ranking over the whole model);
random-label fine-tuning (loops.relabel_terms) then updates only those weights.
Saliency here: the mean over forget batches of each batch's gradient magnitude
(unlearn/gradients.py), L the zero-shot cross-entropy against the true class prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearn.config.ranges import fraction
from unlearn.errors import UnlearnError
from unlearn.gradients import gradient_magnitudes
from unlearn.loops import ClassHead, Optimiser, label_generator, relabel_terms, trainable_and_head
from unlearn.losses import zeroshot_ce
from unlearn.methods import METHODS
from unlearn.methods.random_label import RandomLabelConfig


@dataclass
class SalUnConfig(RandomLabelConfig):  # random-label fine-tuning, masked
    mask_ratio: float = fraction(0.5, low_open=True)  # fraction of the trainable weights that may change


def saliency(ctx, params: list[torch.nn.Parameter], head: ClassHead) -> dict[torch.nn.Parameter, torch.Tensor]:
    """|∂ L(forget) / ∂θ| for every trainable parameter, over the whole forget set."""
    batches = ctx.task.forget_train.loader(ctx.cfg.batch_size)
    magnitudes = gradient_magnitudes(
        ctx.model, params, batches,
        lambda batch: zeroshot_ce(ctx.model, batch[0].to(ctx.device), batch[1].to(ctx.device), head()))
    return dict(zip(params, magnitudes))


def top_fraction_mask(scores: dict[torch.nn.Parameter, torch.Tensor], ratio: float) -> dict[torch.nn.Parameter, torch.Tensor]:
    """0/1 masks keeping the `ratio` highest-scoring entries across all tensors together."""
    flat = torch.cat([s.flatten() for s in scores.values()])
    keep = torch.zeros_like(flat)
    keep[torch.topk(flat, round(ratio * flat.numel())).indices] = 1
    masks, start = {}, 0
    for p, s in scores.items():
        masks[p] = keep[start:start + s.numel()].view_as(s)
        start += s.numel()
    return masks


@METHODS.register("salun", SalUnConfig, rank=50)
def salun(ctx) -> None:
    cfg, model = ctx.cfg, ctx.model
    if not 0 < cfg.mask_ratio <= 1:
        raise UnlearnError(f"method.mask_ratio={cfg.mask_ratio} is outside (0, 1]; valid: the fraction of weights to update")
    params, head = trainable_and_head(ctx)
    masks = top_fraction_mask(saliency(ctx, params, head), cfg.mask_ratio)
    ctx.summary({"salun/masked_fraction": sum(m.sum().item() for m in masks.values())
                        / sum(m.numel() for m in masks.values())})
    forget = ctx.batches(ctx.task.forget_train, cfg.batch_size)
    retain = ctx.batches(ctx.task.retain_train, cfg.batch_size, seed_offset=1)
    generator = label_generator(ctx)
    Optimiser(ctx, params, cfg.lr, grad_masks=masks).run(
        cfg.steps, lambda: relabel_terms(model, head, forget, retain, cfg.retain_weight, generator))
