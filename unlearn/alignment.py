"""Distribution alignment: perturb images until the network's own BatchNorm statistics see them
as pretraining-like (the feature-statistics loss of DeepInversion, Yin et al., CVPR 2020).

A BatchNorm layer stores the running mean and variance of its input over the pretraining data.
Small learnable perturbations x + ε·tanh(p) of a few available images are optimised so that
every BatchNorm input's batch mean and variance match those stored values; the aligned copies
then stand in for the unavailable pretraining data (three-stage reminding distils on them).

Towers without BatchNorm (ViT) store no statistics. Fallbacks (INFERRED, a switch):
- `skip`: no copies;
- `noise`: copies with uniform noise of the same ε budget (they widen the inputs distillation
  sees beyond the retain set without claiming any alignment);
- `inversion`: copies perturbed, within the same budget, until the original's zero-shot head
  names a class the caller picks for each (DeepInversion's other term, its class-conditional
  cross-entropy, with the class texts as the classifier). A retain set of one class's siblings
  holds no image the original calls anything else; these copies do.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from unlearn.errors import UnlearnError


class AlignFallback(StrEnum):
    """What stands in for aligned copies when the image tower has no BatchNorm."""

    skip = "skip"  # none
    noise = "noise"  # uniform noise of the same budget
    inversion = "inversion"  # copies the original names as other classes


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


def perturbed_copies(images: torch.Tensor, loss: Callable[[torch.Tensor, slice], torch.Tensor], steps: int,
                     lr: float, eps: float, batch_size: int) -> torch.Tensor:
    """Copies x + ε·tanh(p) of `images`, p optimised with Adam on `loss(copies, rows)` one chunk of
    `batch_size` images at a time (`rows`: the chunk's place in `images`). Only p gets gradients:
    no network's weights are touched, nor their .grad."""
    copies = []
    for start in range(0, len(images), batch_size):
        rows = slice(start, start + batch_size)
        chunk = images[rows]
        p = torch.zeros_like(chunk, requires_grad=True)
        opt = torch.optim.Adam([p], lr=lr)
        for _ in range(steps):
            (p.grad,) = torch.autograd.grad(loss(chunk + eps * torch.tanh(p), rows), [p])
            opt.step()
        copies.append((chunk + eps * torch.tanh(p)).detach())
    return torch.cat(copies)


def align_to_batchnorm(tower: nn.Module, images: torch.Tensor, steps: int, lr: float, eps: float,
                       batch_size: int) -> torch.Tensor:
    """Aligned copies of `images`: perturbed to minimise `batchnorm_gap` (batch statistics, so
    per chunk of `batch_size`), with the tower in eval mode."""
    was_training = tower.training
    tower.eval()
    try:
        return perturbed_copies(images, lambda copies, _rows: batchnorm_gap(tower, copies), steps, lr, eps, batch_size)
    finally:
        tower.train(was_training)


def noisy_copies(images: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    """The `noise` fallback: uniform noise in [−ε, ε] added to every pixel."""
    noise = torch.rand(images.shape, generator=generator).to(images.device)
    return images + eps * (2 * noise - 1)


def invert_to_classes(logits: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, targets: torch.Tensor,
                      steps: int, lr: float, eps: float, batch_size: int) -> torch.Tensor:
    """The `inversion` fallback: copies of `images` perturbed to minimise the cross-entropy of
    `logits(copies)` (the original's zero-shot logits) against `targets`, one class per image."""
    return perturbed_copies(images, lambda copies, rows: F.cross_entropy(logits(copies), targets[rows]),
                            steps, lr, eps, batch_size)
