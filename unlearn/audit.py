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
indistinguishable from the reference), and `audit/depth/<key>` = (original − unlearned) /
(original − reference) for every accuracy all three have: 0 = as shallow as the original
(nothing forgotten by this measure), 1 = as deep as the reference (beyond 1 or below 0: past either).
Where the original and the reference differ by less than `audit.min_gap` the ratio would divide
noise by noise: depth is null there, with the reason under `undefined` (e.g. a colour subgroup, which
a model retrained without it still names; docs/audit.md). `audit.reference`: `retrain` pretrains the tiny CLIP again
on the embedded world without the forget spec's images (same recipe, cached like every tiny
checkpoint), or a checkpoint path of the same architecture (e.g. a model trained without the data).
"""

from __future__ import annotations

import logging
import math

import torch
from omegaconf import OmegaConf

from unlearn.metrics.relearn_curve import forget_curve
from unlearn.models.backbones import build_backbone
from unlearn.models.tiny import retrained
from unlearn.results import Undefined

log = logging.getLogger(__name__)

TOW_PARTS = ("forget/acc", "retain/acc", "others/acc")
MODELS = ("original", "unlearned", "reference")  # the models an audit measures


def reference_backbone(cfg):
    """The backbone config of `audit.reference`, or None when it is not set."""
    reference = cfg.audit.reference
    if reference is None:
        return None
    if reference == "retrain":
        # a job with deletion requests (unlearn/requests.py): without every request's images
        return retrained(cfg.backbone, list(cfg.get("requests") or []) or cfg.forget, cfg.dataset.name,
                         "audit.reference=retrain",
                         instead=", or a checkpoint path (audit.reference=/path/to/model.pt)")
    backbone = OmegaConf.to_container(cfg.backbone, resolve=True)  # a standalone copy: nothing left to resolve
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


def depth(original: dict, unlearned: dict, reference: dict, min_gap: float) -> dict[str, float]:
    """key -> (original − unlearned) / (original − reference) for every accuracy (`.../acc`) of all
    three, `Undefined` where the original and the reference differ by less than `min_gap`."""
    out: dict[str, float] = {}
    for key, before in original.items():
        if not (key.endswith("/acc") and _is_share(before) and _is_share(unlearned.get(key))
                and _is_share(reference.get(key))):
            continue
        span = before - reference[key]
        if abs(span) < min_gap:
            out[key] = Undefined(f"original {before:.3f} and reference {reference[key]:.3f} differ by less than "
                                 f"audit.min_gap={min_gap}: this measure cannot place the unlearned model between them")
        else:
            out[key] = (before - unlearned[key]) / span
    return out


def _is_share(value) -> bool:
    """An accuracy-like value in [0, 1] (not a step count, not missing)."""
    return isinstance(value, float) and not math.isnan(value) and 0.0 <= value <= 1.0


def relearn_curve(audits: dict[str, dict]) -> list[list]:
    """Rows (model, k, forget acc, others acc) of every audited model's relearning curve (the
    relearn metric's `relearn/<k>/{forget,others}/acc`)."""
    rows = []
    for model, values in audits.items():
        if model not in MODELS:  # gap and depth: comparisons, not curves
            continue
        for k, value in forget_curve(values).items():
            rows.append([model, k, value, values.get(f"relearn/{k}/others/acc")])
    return sorted(rows)
