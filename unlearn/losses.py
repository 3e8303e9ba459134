"""Losses shared by the methods."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearn.zeroshot import zeroshot_logits


def zeroshot_ce(model, images: torch.Tensor, labels: torch.Tensor, class_emb: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the zero-shot classifier: CLIP's analogue of a classifier's loss."""
    return F.cross_entropy(zeroshot_logits(model, images, class_emb), labels)
