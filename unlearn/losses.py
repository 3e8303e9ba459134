"""Losses shared by the methods."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearn.zeroshot import zeroshot_logits


def zeroshot_ce(model, images: torch.Tensor, labels: torch.Tensor, class_emb: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the zero-shot classifier: CLIP's analogue of a classifier's loss."""
    return F.cross_entropy(zeroshot_logits(model, images, class_emb), labels)


def distillation_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) on temperature-softened logits, scaled by T² (Hinton et al.)."""
    t = temperature
    return F.kl_div(F.log_softmax(student_logits / t, dim=-1), F.log_softmax(teacher_logits / t, dim=-1),
                    log_target=True, reduction="batchmean") * t * t
