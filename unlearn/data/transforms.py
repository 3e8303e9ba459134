"""Image tensors in the layout and normalisation the CLIP image towers expect."""

from __future__ import annotations

import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD


def normalize_uint8(images: torch.Tensor, mean=OPENAI_DATASET_MEAN, std=OPENAI_DATASET_STD) -> torch.Tensor:
    """uint8 (N,3,H,W) -> normalised float32."""
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean_t) / std_t
