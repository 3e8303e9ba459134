"""The audit (`audit=standard`): whether forgetting is deep or shallow. The metric suite of
`audit.metrics` (relearn, probe, mia, prompts: unlearn/metrics/) measures three models:

| model | measured | keys in metrics.json |
|---|---|---|
| `original` | before unlearning | `audit/original/<key>` |
| `unlearned` | after unlearning | `audit/unlearned/<key>` |
| `reference` | with `audit.reference` set | `audit/reference/<key>`, and its `eval.metrics` (`audit/reference/forget/acc`, ...) |

With a reference, `audit/gap/<key>` = |unlearned − reference| for every accuracy-like value both
have (the zero-shot accuracies included), `audit/gap/mean` their mean, and `audit/tow` = ∏ over
forget, retain and others of (1 − |acc_unlearned − acc_reference|) (ToW, Zhao et al. 2024: 1 means
indistinguishable from the reference). `audit.reference`: `retrain` pretrains the tiny CLIP again
on the embedded world without the forget spec's images (same recipe, cached like every tiny
checkpoint), or a checkpoint path of the same architecture (e.g. a model trained without the data).
"""

from __future__ import annotations

import logging
import math

import torch
from omegaconf import OmegaConf

from unlearn.errors import UnlearnError
from unlearn.models.backbones import build_backbone

log = logging.getLogger(__name__)

TOW_PARTS = ("forget/acc", "retain/acc", "others/acc")


def reference_backbone(cfg):
    """The backbone config of `audit.reference`, or None when it is not set."""
    reference = cfg.audit.reference
    if reference is None:
        return None
    backbone = OmegaConf.to_container(cfg.backbone, resolve=True)  # a standalone copy: nothing left to resolve
    if reference == "retrain":
        if cfg.backbone.pretrained != "synthetic" or cfg.dataset.name != "synthetic":
            raise UnlearnError(f"audit.reference=retrain pretrains a tiny CLIP on the embedded world; backbone "
                               f"{cfg.backbone.name} on dataset {cfg.dataset.name} cannot be; give a checkpoint "
                               "path (audit.reference=/path/to/model.pt)")
        backbone["pretrain"]["leave_out"] = {"classes": list(cfg.forget.classes),
                                             "attributes": dict(cfg.forget.attributes)}
    else:
        backbone["pretrained"] = reference
    return OmegaConf.create(backbone)


def reference_model(cfg, device: torch.device) -> torch.nn.Module | None:
    backbone = reference_backbone(cfg)
    if backbone is None:
        return None
    log.info("audit reference: %s", cfg.audit.reference)
    return build_backbone(backbone)[0].to(device)


def compare(after: dict, unlearned: dict, reference: dict) -> tuple[dict, float | None]:
    """The gaps to the reference (key -> gap, and `mean`) and ToW (module docstring); `after` holds
    the unlearned model's eval metrics, `unlearned` its audit, `reference` the reference's eval
    metrics and audit."""
    gaps = {}
    for key, value in {**after, **unlearned}.items():
        if _is_share(value) and _is_share(reference.get(key)):
            gaps[key] = abs(value - reference[key])
    gaps["mean"] = sum(gaps.values()) / len(gaps) if gaps else None
    tow = 1.0
    for part in TOW_PARTS:
        if not (_is_share(after.get(part)) and _is_share(reference.get(part))):
            return gaps, None
        tow *= 1.0 - abs(after[part] - reference[part])
    return gaps, tow


def _is_share(value) -> bool:
    """An accuracy-like value in [0, 1] (not a step count, not missing)."""
    return isinstance(value, float) and not math.isnan(value) and 0.0 <= value <= 1.0


def relearn_curve(audits: dict[str, dict]) -> list[list]:
    """Rows (model, k, forget acc, others acc) of every audited model's relearning curve (the
    relearn metric's `relearn/<k>/{forget,others}/acc`)."""
    rows = []
    for model, values in audits.items():
        for key, value in values.items():
            parts = key.split("/")
            if len(parts) == 4 and parts[0] == "relearn" and parts[2:] == ["forget", "acc"]:
                rows.append([model, int(parts[1]), value, values.get(f"relearn/{parts[1]}/others/acc")])
    return sorted(rows)
