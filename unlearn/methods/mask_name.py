"""The shallow control (`method=mask_name`): forgetting that only hides.

The token embeddings that spell the forget classes' names, and no other class's name, are drawn
again at random (seeded; the embedding matrix's own spread); every other weight is untouched. The
forget classes' prompts lose their names, so zero-shot accuracy on them falls to about chance or
below. A random draw can land near the old name (one pretraining seed kept 57 % of arrows named),
so it is drawn again, from the same seeded stream, until the forget training images' zero-shot
accuracy is at most `max_forget_acc` (at most `max_draws` draws; the lowest one is kept, and
`mask_name/forget_acc` and `mask_name/draws` say what was reached). The image tower, and with it
everything the images encode, is exactly as before:
relearning or a linear probe recovers the class at once. An audit metric that calls this model's
forgetting deep cannot tell hiding from forgetting (docs/audit.md, "Controls with known answers").

Whole classes only: a colour or style subgroup shares its class's name with its siblings, so no
edit of the name can hide it alone; such specs are rejected with one line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from unlearn.config.ranges import at_least, fraction
from unlearn.config.schema import MethodConfig
from unlearn.errors import UnlearnError
from unlearn.methods import METHODS
from unlearn.zeroshot import chunked_class_embeddings, image_features

log = logging.getLogger(__name__)
FEATURE_BATCH = 256  # images per pass when the forget training images are encoded, once


@dataclass
class MaskNameConfig(MethodConfig):
    max_forget_acc: float = fraction(0.05)  # draw again while the forget training images' zero-shot accuracy is above
    max_draws: int = at_least(1, 20)


def name_tokens(tokenizer, names: list[str]) -> set[int]:
    """The token ids that spell `names`, without the start, end and padding tokens."""
    special = set(tokenizer([""])[0].tolist())
    return {int(t) for t in tokenizer(names).flatten().tolist()} - special


@METHODS.register("mask_name", MaskNameConfig, rank=1, label="mask_name (shallow control)", forgets="whole_classes")
def mask_name(ctx) -> None:
    if not ctx.task.forget_whole_classes:  # python -m unlearn refuses such a spec at its start (unlearn/requests.py)
        raise UnlearnError("method=mask_name hides whole class names; a part of a class shares its name")
    names = [ctx.bench.classnames[c] for c in ctx.task.forget_classes]
    kept = name_tokens(ctx.tokenizer, [ctx.bench.classnames[c] for c in ctx.kept_classes])
    tokens = sorted(name_tokens(ctx.tokenizer, names) - kept)
    if not tokens:
        raise UnlearnError(f"method=mask_name: every token of {names} also spells another class's name; "
                           "masking them would change other classes")
    table = ctx.model.token_embedding.weight
    generator, scale = torch.Generator().manual_seed(ctx.seed), table.std().item()
    accuracy = forget_accuracy(ctx)
    best = None
    with torch.no_grad():
        for draw in range(1, ctx.cfg.max_draws + 1):
            table[tokens] = (torch.randn(len(tokens), table.shape[1], generator=generator, dtype=table.dtype)
                             * scale).to(table.device)
            acc = accuracy()
            if best is None or acc < best[0]:
                best = (acc, draw, table[tokens].clone())
            if acc <= ctx.cfg.max_forget_acc:
                break
        acc, draw, rows = best
        table[tokens] = rows
    if acc > ctx.cfg.max_forget_acc:
        log.warning("mask_name: after %d draws the forget images are still named %.1f %% of the time (kept the "
                    "lowest; method.max_forget_acc=%g)", ctx.cfg.max_draws, 100 * acc, ctx.cfg.max_forget_acc)
    ctx.summary({"mask_name/tokens": len(tokens), "mask_name/draws": draw, "mask_name/forget_acc": acc})


def forget_accuracy(ctx):
    """A function giving the model's zero-shot accuracy on the forget training images with the
    evaluation prompts; their image features are computed once (the image tower never changes)."""
    features = image_features(ctx.model, ctx.task.forget_train, ctx.device, FEATURE_BATCH, desc="forget features")
    labels = torch.as_tensor(ctx.task.forget_train.labels, device=ctx.device)

    def accuracy() -> float:
        heads = chunked_class_embeddings(ctx.model, ctx.tokenizer, ctx.bench.classnames, ctx.bench.templates, ctx.device)
        return ((features @ heads.T).argmax(1) == labels).float().mean().item()

    return accuracy
