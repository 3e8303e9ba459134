"""Exponential moving average of weights: θ_ema ← decay·θ_ema + (1 − decay)·θ."""

from __future__ import annotations

from typing import Iterable

import torch

from unlearn.errors import UnlearnError


class WeightEMA:
    """Shadow copies of `params`, updated after each optimiser step; `copy_to()` writes the
    averages back into the parameters (the model then runs with the averaged weights)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], decay: float):
        if not 0 <= decay < 1:
            raise UnlearnError(f"EMA decay must be in [0, 1), got {decay}")
        self.params = list(params)
        self.decay = decay
        self.shadow = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        for shadow, p in zip(self.shadow, self.params):
            shadow.lerp_(p, 1 - self.decay)

    @torch.no_grad()
    def copy_to(self) -> None:
        for shadow, p in zip(self.shadow, self.params):
            p.copy_(shadow)
