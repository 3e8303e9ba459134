"""Gradient statistics over a data set: the base of Fisher scores and saliency masks."""

from __future__ import annotations

from typing import Callable, Iterable

import torch

from unlearn.progress import progress


def gradient_statistics(model: torch.nn.Module, params: dict[str, torch.nn.Parameter], batches: Iterable,
                        loss_fn: Callable[[object], torch.Tensor], power: int = 2,
                        desc: str = "gradient statistics") -> dict[str, torch.Tensor]:
    """Mean over `batches` of |∂loss_fn(batch)/∂θ|^power for each named parameter.

    power=2 with single-sample batches is the diagonal (empirical) Fisher; power=1 gives the
    gradient magnitudes saliency methods rank weights by. Gradients are left cleared.
    """
    totals = {name: torch.zeros_like(p) for name, p in params.items()}
    count = 0
    for batch in progress(batches, desc, total=len(batches) if hasattr(batches, "__len__") else None):
        model.zero_grad(set_to_none=True)
        loss_fn(batch).backward()
        for name, p in params.items():
            if p.grad is not None:
                totals[name] += p.grad.detach().abs().pow(power)
        count += 1
    model.zero_grad(set_to_none=True)
    return {name: t / max(count, 1) for name, t in totals.items()}


def gradient_magnitudes(model: torch.nn.Module, params: list[torch.nn.Parameter], batches: Iterable,
                        loss_fn: Callable[[object], torch.Tensor]) -> list[torch.Tensor]:
    """Mean over `batches` of |∂loss_fn(batch)/∂θ| for each of `params`, in their order."""
    stats = gradient_statistics(model, {str(i): p for i, p in enumerate(params)}, batches, loss_fn, power=1)
    return [stats[str(i)] for i in range(len(params))]
