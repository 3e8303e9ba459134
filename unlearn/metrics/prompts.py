"""`prompts`: zero-shot forget and retain accuracy under prompts that are neither the evaluation nor
the training templates. Forgetting measured with one prompt set can be undone by another.

| set | templates |
|---|---|
| each of `dataset.audit_prompts` | paraphrase sets written for the dataset (its config) |
| `attribute` (specs with attributes; deletion requests: when all name the same) | the evaluation templates with the forgotten attribute named: "a picture of a red {}." |

Keys: `prompts/<set>/forget/acc`, `prompts/<set>/retain/acc`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unlearn.config.schema import MetricConfig
from unlearn.data.tasks import as_specs
from unlearn.metrics import METRICS
from unlearn.metrics.base import accuracy, head


@dataclass
class PromptsConfig(MetricConfig):
    pass


@METRICS.register("prompts", PromptsConfig)
def prompts(mctx, model, cfg) -> dict[str, float | None]:
    test = mctx.task.test
    image_features = mctx.evaluator.image_features(model, test, "test")
    out = {}
    for name, templates in prompt_sets(mctx).items():
        logits = image_features @ head(model, mctx, templates).T
        for part in ("forget", "retain"):
            mask = mctx.task.test_masks[part]
            out[f"prompts/{name}/{part}/acc"] = accuracy(logits[torch.as_tensor(mask)], test.labels[mask])
    return out


def prompt_sets(mctx) -> dict[str, list[str]]:
    sets = {name: list(templates) for name, templates in mctx.bench.audit_prompts.items()}
    # several specs (deletion requests): only when they all name the same attributes
    phrases = {" ".join(str(v) for v in spec.attributes.values()) for spec in as_specs(mctx.forget)}
    if len(phrases) == 1 and (named := phrases.pop()):
        sets["attribute"] = [t.replace("{}", f"{named} {{}}") for t in mctx.bench.templates]
    return sets
