"""The shallow control (`method=mask_name`): forgetting that only hides.

The token embeddings that spell the forget classes' names, and no other class's name, are drawn
again at random (seeded; the embedding matrix's own spread); every other weight is untouched. The
forget classes' prompts lose their names, so zero-shot accuracy on them falls to about chance or
below, while the image tower, and with it everything the images encode, is exactly as before:
relearning or a linear probe recovers the class at once. An audit metric that calls this model's
forgetting deep cannot tell hiding from forgetting (docs/audit.md, "Controls with known answers").

Whole classes only: a colour or style subgroup shares its class's name with its siblings, so no
edit of the name can hide it alone; such specs are rejected with one line.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearn.config.schema import MethodConfig
from unlearn.errors import UnlearnError
from unlearn.methods import METHODS


@dataclass
class MaskNameConfig(MethodConfig):
    pass


def name_tokens(tokenizer, names: list[str]) -> set[int]:
    """The token ids that spell `names`, without the start, end and padding tokens."""
    special = set(tokenizer([""])[0].tolist())
    return {int(t) for t in tokenizer(names).flatten().tolist()} - special


@METHODS.register("mask_name", MaskNameConfig, rank=1, label="mask_name (shallow control)")
def mask_name(ctx) -> None:
    forget = ctx.forget
    if forget is not None and forget.attributes:
        raise UnlearnError(f"method=mask_name hides whole class names; forget={forget.name} is a part of its class "
                           "(its siblings share the name); valid: a class spec or a class inside its coarse group")
    names = [ctx.bench.classnames[c] for c in ctx.task.forget_classes]
    kept = name_tokens(ctx.tokenizer, [ctx.bench.classnames[c] for c in ctx.kept_classes])
    tokens = sorted(name_tokens(ctx.tokenizer, names) - kept)
    if not tokens:
        raise UnlearnError(f"method=mask_name: every token of {names} also spells another class's name; "
                           "masking them would change other classes")
    table = ctx.model.token_embedding.weight
    generator = torch.Generator().manual_seed(ctx.seed)
    with torch.no_grad():
        fresh = torch.randn(len(tokens), table.shape[1], generator=generator, dtype=table.dtype) * table.std()
        table[tokens] = fresh.to(table.device)
    ctx.summary({"mask_name/tokens": len(tokens)})
