"""Pieces every training loop shares: which parameters train, and the class text head."""

from __future__ import annotations

from typing import Callable

import torch

from unlearn.errors import UnlearnError
from unlearn.zeroshot import class_embeddings

TOWERS = ("image", "text", "both")


def tower_of(name: str) -> str | None:
    """'image', 'text' or None (logit_scale and other shared scalars) for a CLIP parameter name."""
    if name.startswith("visual."):
        return "image"
    if name.startswith(("transformer.", "token_embedding", "positional_embedding", "ln_final", "text_projection", "text.")):
        return "text"
    return None


def trainable_parameters(model: torch.nn.Module, towers: str) -> list[torch.nn.Parameter]:
    """Freeze everything except the chosen towers; return the parameters left trainable."""
    if towers not in TOWERS:
        raise UnlearnError(f"unknown method.towers {towers!r}; valid: {', '.join(TOWERS)}")
    chosen = []
    for name, p in model.named_parameters():
        train = tower_of(name) is not None and towers in ("both", tower_of(name))
        p.requires_grad_(train)
        if train:
            chosen.append(p)
    return chosen


def input_shape(model) -> tuple[int, int, int]:
    """(3, H, W) the image tower expects: synthetic inputs are sized from the model, no data is read."""
    size = model.visual.image_size
    return (3, size, size) if isinstance(size, int) else (3, *size)


class ClassHead:
    """Class text embeddings for training losses: computed once when the text tower is frozen,
    recomputed with gradients on every call when it trains."""

    def __init__(self, model, tokenizer: Callable, classnames: list[str], templates: list[str],
                 device: torch.device, text_trains: bool):
        self.args = (model, tokenizer, classnames, templates, device)
        self.text_trains = text_trains
        self._fixed = None
        if not text_trains:
            with torch.no_grad():
                self._fixed = class_embeddings(*self.args)

    def __call__(self) -> torch.Tensor:
        return self._fixed if self._fixed is not None else class_embeddings(*self.args)
