"""Zero-shot heads: class text embeddings from names × templates, and image features."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from unlearn.data.base import ImageSet
from unlearn.progress import progress


def prompts(classname: str, templates: list[str]) -> list[str]:
    return [t.format(classname) for t in templates]


def class_embeddings(model, tokenizer: Callable, classnames: list[str], templates: list[str],
                     device: torch.device) -> torch.Tensor:
    """(C, D) unit-norm class embeddings: the mean of each class's normalised prompt embeddings.

    Differentiable: call under torch.no_grad() when the text tower is not being trained.
    """
    tokens = tokenizer([p for c in classnames for p in prompts(c, templates)]).to(device)
    emb = model.encode_text(tokens, normalize=True).view(len(classnames), len(templates), -1)
    return F.normalize(emb.mean(1), dim=-1)


def zeroshot_logits(model, images: torch.Tensor, class_emb: torch.Tensor) -> torch.Tensor:
    features = model.encode_image(images, normalize=True)
    return model.logit_scale.exp() * features @ class_emb.T


def logits_as_cosine(model, logits: float) -> float:
    """A gap in zero-shot logits (a log-probability ratio of the softmax) as the cosine gap that
    gives it on `model`: divided by its logit scale. Settings in logits mean the same on any CLIP
    (OpenAI's scale is 100, the tiny CLIPs' 24-30); the same settings in cosine units do not."""
    return logits / float(model.logit_scale.detach().exp())


@torch.no_grad()
def image_features(model, images: ImageSet, device: torch.device, batch_size: int,
                   desc: str = "image features") -> torch.Tensor:
    """(N, D) unit-norm features of a whole image set, batched, in dataset order."""
    loader = images.loader(batch_size, pin_memory=device.type == "cuda")
    feats = [
        model.encode_image(x.to(device, non_blocking=True), normalize=True).float()
        for x, _ in progress(loader, desc, total=len(loader), unit="batch")
    ]
    return torch.cat(feats) if feats else torch.empty(0, model.text_projection.shape[-1], device=device)
