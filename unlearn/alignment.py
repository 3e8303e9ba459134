"""Distribution alignment: perturb images until the network's own BatchNorm statistics see them
as pretraining-like (the feature-statistics loss of DeepInversion, Yin et al., CVPR 2020).

A BatchNorm layer stores the running mean and variance of its input over the pretraining data.
Small learnable perturbations x + ε·tanh(p) of a few available images are optimised so that
every BatchNorm input's batch mean and variance match those stored values; the aligned copies
then stand in for the unavailable pretraining data (three-stage reminding distils on them).

Towers without BatchNorm (ViT) store no statistics. Fallbacks (INFERRED, a switch):
`skip` (no aligned copies) or `noise` (copies with uniform noise of the same ε budget: they
widen the inputs distillation sees beyond the retain set without claiming any alignment).
"""

from __future__ import annotations

from enum import StrEnum

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from unlearn.errors import UnlearnError


class AlignFallback(StrEnum):
    """What stands in for aligned copies when the image tower has no BatchNorm."""

    skip = "skip"  # none
    noise = "noise"  # uniform noise of the same budget


def batchnorm_layers(module: nn.Module) -> list[_BatchNorm]:
    """BatchNorm layers that hold running statistics."""
    return [m for m in module.modules() if isinstance(m, _BatchNorm) and m.running_mean is not None]


def batchnorm_gap(tower: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Σ over BatchNorm layers of ‖batch mean − running mean‖₂ + ‖batch var − running var‖₂ of the
    layer's input, for `images` through `tower` (which should be in eval mode)."""
    gaps = []

    def record(layer, inputs, _output):
        x = inputs[0].transpose(0, 1).flatten(1)  # channels × (batch · positions)
        gaps.append(torch.linalg.vector_norm(x.mean(1) - layer.running_mean)
                    + torch.linalg.vector_norm(x.var(1, unbiased=False) - layer.running_var))

    hooks = [layer.register_forward_hook(record) for layer in batchnorm_layers(tower)]
    try:
        tower(images)
    finally:
        for hook in hooks:
            hook.remove()
    if not gaps:
        raise UnlearnError("batchnorm_gap needs a tower with BatchNorm layers (a ResNet image tower)")
    return torch.stack(gaps).sum()


def align_to_batchnorm(tower: nn.Module, images: torch.Tensor, steps: int, lr: float, eps: float,
                       batch_size: int) -> torch.Tensor:
    """Aligned copies x + ε·tanh(p) of `images`, p optimised with Adam on `batchnorm_gap`, one
    chunk of `batch_size` images at a time (the statistics are batch statistics). The tower's
    weights are not touched."""
    was_training = tower.training
    tower.eval()
    aligned = []
    for chunk in images.split(batch_size):
        p = torch.zeros_like(chunk, requires_grad=True)
        opt = torch.optim.Adam([p], lr=lr)
        for _ in range(steps):
            loss = batchnorm_gap(tower, chunk + eps * torch.tanh(p))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        aligned.append((chunk + eps * torch.tanh(p)).detach())
    tower.zero_grad(set_to_none=True)
    tower.train(was_training)
    return torch.cat(aligned)


def aligned_copies(tower: nn.Module, images: torch.Tensor, steps: int, lr: float, eps: float, batch_size: int,
                   fallback: AlignFallback, generator: torch.Generator) -> torch.Tensor | None:
    """BatchNorm-aligned copies of `images`; for a tower without BatchNorm, the `fallback`
    (None for `skip`)."""
    if batchnorm_layers(tower):
        return align_to_batchnorm(tower, images, steps, lr, eps, batch_size)
    if fallback == "noise":
        noise = torch.rand(images.shape, generator=generator).to(images.device)
        return images + eps * (2 * noise - 1)
    return None
