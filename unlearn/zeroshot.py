"""Zero-shot heads: class text embeddings from names × templates, and image features."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

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


# prompts per pass of the text tower: ImageNet's 1000 classes × 80 templates would not fit one
# batch; with gradients, a pass keeps every layer's activations for the backward pass (1000 classes
# × 2 training prompts through RN50's text tower: ~75 GB, estimated)
PROMPTS_PER_BATCH = 2048
PROMPTS_PER_BACKWARD = 256


def chunked_class_embeddings(model, tokenizer: Callable, classnames: list[str], templates: list[str],
                             device: torch.device, rows: list[int] | None = None) -> torch.Tensor:
    """`class_embeddings` a chunk of classes (PROMPTS_PER_BATCH prompts) at a time. Under autograd
    the chunks are smaller (PROMPTS_PER_BACKWARD) and each is recomputed in the backward pass
    (torch.utils.checkpoint), so memory holds one chunk's activations whatever the number of
    classes; the gradient is the same. One chunk (the embedded world) is a plain call.

    `rows`: only those classes' embeddings, in that order (a loss that needs a few classes). They
    are encoded alone only when the whole head takes more than one chunk: within one chunk the
    whole head costs no more memory, and its rows are the whole head's bit for bit (a smaller
    batch may round differently)."""
    recompute = torch.is_grad_enabled() and any(p.requires_grad for p in model.parameters())
    per_call = max(1, (PROMPTS_PER_BACKWARD if recompute else PROMPTS_PER_BATCH) // len(templates))
    if len(classnames) <= per_call:
        head = class_embeddings(model, tokenizer, classnames, templates, device)
        return head if rows is None else head[rows]
    if rows is not None:
        return chunked_class_embeddings(model, tokenizer, [classnames[i] for i in rows], templates, device)
    chunks = [classnames[i:i + per_call] for i in range(0, len(classnames), per_call)]
    if recompute:
        return torch.cat([checkpoint(class_embeddings, model, tokenizer, chunk, templates, device, use_reentrant=False)
                          for chunk in chunks])
    return torch.cat([class_embeddings(model, tokenizer, chunk, templates, device) for chunk in chunks])


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
