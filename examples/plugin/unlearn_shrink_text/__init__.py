"""An unlearn plugin: the method `shrink_text` and the metric `name_norm`.

`shrink_text` scales the token embeddings of the forget classes' names by `scale`: their prompts
lose the name, so zero-shot accuracy on those classes falls, while the image tower is untouched (a
shallow edit: the images are as recognisable as before). It records which tokens it shrank in the
run folder's artifacts/. `name_norm` measures the mean norm of those classes' text embeddings
before normalisation (a value in its own units, not an accuracy).

    pip install -e examples/plugin
    python -m unlearn method=shrink_text forget=synthetic_class_arrow \
        +metric@eval.metrics.name_norm=name_norm
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from unlearn.config.ranges import fraction
from unlearn.config.schema import MethodConfig, MetricConfig
from unlearn.methods import METHODS
from unlearn.methods.mask_name import name_tokens  # the shallow control spells names the same way
from unlearn.metrics import METRICS


@dataclass
class ShrinkTextConfig(MethodConfig):
    scale: float = fraction(0.0)  # what the names' token embeddings are multiplied by


# rank: where its rows go in report tables (the baselines 10-80, the papers' methods 90 and 100)
@METHODS.register("shrink_text", ShrinkTextConfig, rank=85)
def shrink_text(ctx) -> None:
    names = [ctx.bench.classnames[c] for c in ctx.task.forget_classes]
    tokens = sorted(name_tokens(ctx.tokenizer, names))
    with torch.no_grad():
        ctx.model.token_embedding.weight[tokens] *= ctx.cfg.scale
    ctx.summary({"shrink_text/tokens": len(tokens)})
    if (path := ctx.artifact("shrunk_tokens.json")) is not None:
        path.write_text(json.dumps({"names": names, "tokens": tokens, "scale": ctx.cfg.scale}))


@dataclass
class NameNormConfig(MetricConfig):
    pass


@METRICS.register("name_norm", NameNormConfig)
@torch.no_grad()
def name_norm(mctx, model, cfg) -> dict[str, float]:
    names = [mctx.bench.classnames[c] for c in mctx.task.forget_classes]
    tokens = mctx.tokenizer([f"a photo of a {name}." for name in names]).to(mctx.device)
    return {"name_norm": float(model.encode_text(tokens).norm(dim=-1).mean())}
