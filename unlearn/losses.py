"""Losses shared by the methods."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearn.zeroshot import zeroshot_logits


def zeroshot_ce(model, images: torch.Tensor, labels: torch.Tensor, class_emb: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the zero-shot classifier: CLIP's analogue of a classifier's loss."""
    return F.cross_entropy(zeroshot_logits(model, images, class_emb), labels)


def image_text_cosines(model, images: torch.Tensor, class_emb: torch.Tensor) -> torch.Tensor:
    """(N, C) cosine between each image and each class text (class_emb rows are unit-norm)."""
    return model.encode_image(images, normalize=True) @ class_emb.T


def class_cosine(model, images: torch.Tensor, labels: torch.Tensor, class_emb: torch.Tensor) -> torch.Tensor:
    """(N,) cosine between each image and its own class text."""
    return image_text_cosines(model, images, class_emb).gather(1, labels[:, None]).squeeze(1)


def best_rival(cosines: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(N,) each image's highest cosine among the classes other than its own."""
    return cosines.scatter(1, labels[:, None], -torch.inf).max(1).values


def hinge(values: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    """Mean excess of the values over the threshold (a number, or one per row): pushes image–text
    matches down until they fall below it, then stops pulling (the three-stage forgetting loss)."""
    return F.relu(values - threshold).mean()


def distillation_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) on temperature-softened logits, scaled by T² (Hinton et al.)."""
    t = temperature
    return F.kl_div(F.log_softmax(student_logits / t, dim=-1), F.log_softmax(teacher_logits / t, dim=-1),
                    log_target=True, reduction="batchmean") * t * t
