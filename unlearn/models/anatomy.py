"""What the code knows about an open_clip CLIP's insides, in one place: which tower a parameter
belongs to, how parameters group into blocks, the image tower module and its input size.

Parameter names follow open_clip's CLIP (ModifiedResNet or VisionTransformer image tower under
`visual.`; the text transformer, embeddings, final norm and projection at the top level; the
`text.` prefix of CustomTextCLIP models):

| block               | parameters                                                        |
|---------------------|-------------------------------------------------------------------|
| `visual.layer3.0`, `visual.transformer.resblocks.2`, `transformer.resblocks.1`, ... | one numbered residual block |
| `visual.stem`       | the ResNet stem convolutions or the ViT patch / class / position embedding |
| `visual.attnpool`   | the ResNet attention pool                                         |
| `visual.head`       | the image tower's final norm and projection (`ln_post`, `proj`)   |
| `text.stem`         | token and position embeddings                                     |
| `text.head`         | the text tower's final norm and projection (`ln_final`, `text_projection`) |
Shared scalars (`logit_scale`) belong to no tower and no block. The text projection (what
space adaptation edits) is owned by the CLIP itself or by a CustomTextCLIP's `text` module; the
functions at the end find it, apply it and edit it whichever it is.
"""

from __future__ import annotations

import re

import torch
from open_clip.transformer import text_global_pool
from torch import nn

from unlearn.config.schema import Towers
from unlearn.errors import UnlearnError

IMAGE_PREFIX = "visual."
TEXT_PREFIXES = ("transformer.", "token_embedding", "positional_embedding", "ln_final", "text_projection", "text.")
# a numbered block inside a sequence: layer3.0, resblocks.11, blocks.4 (timm), ...
_NUMBERED = re.compile(r"^(.*?\.\d+)\.")
_HEADS = ("visual.ln_post.", "visual.proj", "ln_final.", "text_projection")


def tower_of(name: str) -> Towers | None:
    """The tower of a CLIP parameter or buffer name; None for shared scalars such as logit_scale."""
    if name.startswith(IMAGE_PREFIX):
        return Towers.image
    if name.startswith(TEXT_PREFIXES):
        return Towers.text
    return None


def in_towers(name: str, towers: Towers) -> bool:
    """Whether a parameter belongs to the chosen towers (`both`: either)."""
    tower = tower_of(name)
    return tower is not None and towers in (Towers.both, tower)


def block_of(name: str) -> str | None:
    """The block a CLIP parameter belongs to (see the table above); None for shared scalars."""
    tower = tower_of(name)
    if tower is None:
        return None
    if numbered := _NUMBERED.match(name):
        return numbered.group(1)
    if name.startswith("visual.attnpool."):
        return "visual.attnpool"
    prefix = "visual" if tower == Towers.image else "text"
    return f"{prefix}.head" if name.startswith(_HEADS) else f"{prefix}.stem"


def image_tower(model: nn.Module) -> nn.Module:
    return model.visual


def input_shape(model: nn.Module) -> tuple[int, int, int]:
    """(3, H, W) the image tower expects: synthetic inputs are sized from the model, no data is read."""
    size = image_tower(model).image_size
    return (3, size, size) if isinstance(size, int) else (3, *size)


# ---------------------------------------------------------------- the text projection

def text_tower(model: nn.Module) -> nn.Module:
    """The module that owns `text_projection`: the CLIP itself, or a CustomTextCLIP's TextTransformer."""
    if hasattr(model, "token_embedding") and hasattr(model, "text_projection"):
        return model
    text = getattr(model, "text", None)
    if text is not None and hasattr(text, "token_embedding") and getattr(text, "cls_emb", None) is None:
        return text
    raise UnlearnError(f"this method needs an open_clip text transformer with a text_projection; "
                       f"{type(model).__name__} has none")


def pre_projection_features(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """(N, width) text features before the projection: ln_final's output at the pooled (EOT) token,
    exactly as open_clip's encode_text computes them."""
    tower = text_tower(model)
    if tower is model:
        cast = model.transformer.get_cast_dtype()
        x = model.token_embedding(tokens).to(cast) + model.positional_embedding.to(cast)
        x = model.transformer(x, attn_mask=model.attn_mask)
        pool_type, eos = model.text_pool_type, getattr(model, "text_eos_id", None)
    else:
        x, attn_mask = tower._embeds(tokens)
        x = tower.transformer(x, attn_mask=attn_mask)
        pool_type, eos = tower.pool_type, getattr(tower, "eos_id", None)
    return text_global_pool(tower.ln_final(x), tokens, pool_type, eos_token_id=eos)


def encode_pre_projection(model, tokenizer, texts: list[str], device: torch.device) -> torch.Tensor:
    return pre_projection_features(model, tokenizer(texts).to(device)).float()


def projection_name(model: nn.Module) -> str:
    """The parameter name of the text projection matrix (for add_lora)."""
    tower = text_tower(model)
    prefix = "" if tower is model else "text."
    if isinstance(tower.text_projection, nn.Linear):
        return f"{prefix}text_projection.weight"
    return f"{prefix}text_projection"


def project(model: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """The text projection applied to pre-projection features, as open_clip applies it."""
    proj = text_tower(model).text_projection
    return proj(h) if isinstance(proj, nn.Linear) else h @ proj


def projection_matrix(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(M, bias) with project(h) = h @ M (+ bias): M is (width, dim) whatever the module type."""
    proj = text_tower(model).text_projection
    if isinstance(proj, nn.Linear):
        return proj.weight.T, proj.bias
    return proj, None


@torch.no_grad()
def add_to_projection(model: nn.Module, delta: torch.Tensor) -> None:
    """M ← M + delta, delta (width, dim)."""
    proj = text_tower(model).text_projection
    if isinstance(proj, nn.Linear):
        proj.weight.add_(delta.T.to(proj.weight.dtype))
    else:
        proj.add_(delta.to(proj.dtype))
