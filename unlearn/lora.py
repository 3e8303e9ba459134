"""Low-rank adapters on any weight tensor, through torch parametrizations.

`add_lora(model, ["visual.layer4.0.conv2.weight", "text_projection"], rank, alpha)` replaces
each named tensor W by W + (alpha / rank) · B A (A Kaiming-uniform, B zero, so training starts
from the unchanged model). It works for Linear and Conv weights, attention in-projections and
bare parameters such as CLIP's text projection alike. `merge_lora(model)` bakes the deltas in:
the model is again an ordinary CLIP whose state dict has the original keys.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize


class LowRankDelta(nn.Module):
    def __init__(self, shape: torch.Size, rank: int, alpha: float):
        super().__init__()
        rows, cols = shape[0], math.prod(shape[1:])
        self.A = nn.Parameter(torch.empty(rank, cols))
        self.B = nn.Parameter(torch.zeros(rows, rank))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.scale = alpha / rank

    def delta(self) -> torch.Tensor:
        return self.scale * (self.B @ self.A)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.delta().view_as(weight).to(weight.dtype)


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    module_path, _, attr = name.rpartition(".")
    return (model.get_submodule(module_path) if module_path else model), attr


def add_lora(model: nn.Module, names: list[str], rank: int, alpha: float) -> list[nn.Parameter]:
    """Attach an adapter to each named tensor; freeze the tensor itself; return the adapters'
    parameters (the only ones that train)."""
    trainable = []
    for name in names:
        module, attr = _owner(model, name)
        weight = getattr(module, attr)
        weight.requires_grad_(False)
        adapter = LowRankDelta(weight.shape, rank, alpha).to(weight.device)
        parametrize.register_parametrization(module, attr, adapter)
        trainable += [adapter.A, adapter.B]
    return trainable


def merge_lora(model: nn.Module) -> None:
    """Fold every adapter into its tensor and remove the parametrizations."""
    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            for attr in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, attr, leave_parametrized=True)
