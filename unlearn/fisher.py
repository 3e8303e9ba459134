"""Fisher information per block of a CLIP model, and layer selection by it.

A *block* is a residual block of either tower, or one of the parameter groups around them (a
tower's stem and head, the ResNet attention pool): see unlearn/models/anatomy.py.

The Fisher of a block is the diagonal empirical Fisher of the image–text cosine, the mean of
its squared per-sample gradients, summed over the block's parameters. The *relative* Fisher
divides the forget set's by the retain set's: a block scores high when it carries the forget
subgroup but not its siblings, which is what layer selection for subgroup forgetting wants.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import islice
from typing import Callable

import torch

from unlearn.config.schema import Towers
from unlearn.data.base import ImageSet
from unlearn.errors import UnlearnError
from unlearn.gradients import gradient_statistics
from unlearn.losses import class_cosine
from unlearn.models.anatomy import block_of, in_towers


class Selection(StrEnum):
    topk = "topk"  # the `top_k` best blocks
    threshold = "threshold"  # every block scoring at least `threshold` × the best score


def model_blocks(model: torch.nn.Module, towers: Towers) -> dict[str, list[str]]:
    """Block -> its parameter names, for the blocks of the chosen towers, in model order."""
    blocks: dict[str, list[str]] = {}
    for name, _ in model.named_parameters():
        block = block_of(name)
        if block is not None and in_towers(name, towers):
            blocks.setdefault(block, []).append(name)
    return blocks


def block_fisher(model: torch.nn.Module, blocks: dict[str, list[str]], images: ImageSet,
                 class_emb: Callable[[], torch.Tensor], samples: int, device: torch.device,
                 seed: int = 0) -> dict[str, float]:
    """Per block: the mean over `samples` single images (drawn at random, by `seed`) of the squared
    gradient of the cosine between the image and its class text, summed over the block's parameters.

    `class_emb()` returns the (C, D) class text embeddings; it must build them with gradients
    when text blocks are scored. The model's requires_grad flags are restored afterwards.
    """
    named = dict(model.named_parameters())
    params = {name: named[name] for names in blocks.values() for name in names}
    flags = {name: p.requires_grad for name, p in named.items()}
    for name, p in named.items():
        p.requires_grad_(name in params)
    try:
        per_sample = islice(images.loader(1, shuffle=True, seed=seed), samples)
        stats = gradient_statistics(
            model, params, ((x.to(device), y.to(device)) for x, y in per_sample),
            lambda batch: class_cosine(model, batch[0], batch[1], class_emb()).sum(),
        )
    finally:
        for name, p in named.items():
            p.requires_grad_(flags[name])
    return {block: float(sum(stats[name].sum() for name in names)) for block, names in blocks.items()}


def relative_fisher(forget: dict[str, float], retain: dict[str, float], eps: float = 1e-3) -> dict[str, float]:
    """forget / retain Fisher per block. `eps` (a fraction of the mean retain Fisher) keeps a
    block that neither set moves from scoring high by dividing noise by noise."""
    floor = eps * sum(retain.values()) / max(len(retain), 1)
    return {block: forget[block] / (retain[block] + floor) for block in forget}


def select_blocks(scores: dict[str, float], mode: Selection, top_k: int, threshold: float) -> list[str]:
    """The highest-scoring blocks, in descending score order.

    topk: the `top_k` best. threshold: every block scoring at least `threshold` × the best
    score (scale-free, so the same value works for relative and plain Fisher).
    """
    ranked = sorted(scores, key=lambda block: -scores[block])
    if mode == "topk":
        if top_k < 1:
            raise UnlearnError(f"top_k must be >= 1, got {top_k}")
        return ranked[:top_k]
    if not 0 < threshold <= 1:
        raise UnlearnError(f"fisher threshold must be in (0, 1], got {threshold}")
    best = scores[ranked[0]]
    return [block for block in ranked if scores[block] >= threshold * best]
