"""Model souping toward the original: θ = a·θ_unlearned + (1 − a)·θ_original, a chosen on a
calibration split.

For every a of a grid the souped model is measured on the calibration forget and retain sets
(zero-shot accuracy); a rule then picks a, and the whole a-curve is logged and plotted.
Rules:
- `smallest_below`: the smallest a whose calibration forget accuracy is at most the target
  (closest to the original model that still forgets);
- `best_retain_below`: among the a at or under the target, the best retain accuracy (ties:
  the smaller a);
- `best_score`: the best score (`objective`: ours or the paper's, unlearn/metrics/formulas.py) of the
  calibration metrics against the original's (a = 0).
When no a reaches the target, the below-target rules fall back to the lowest forget accuracy
(ties: the larger a).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Callable

import torch

from unlearn.data.base import ImageSet
from unlearn.errors import UnlearnError
from unlearn.losses import best_rival
from unlearn.metrics import SCORES, Objective
from unlearn.plotting import figure, save_png
from unlearn.progress import progress
from unlearn.zeroshot import image_features


class SoupRule(StrEnum):
    smallest_below = "smallest_below"
    best_retain_below = "best_retain_below"
    best_score = "best_score"


def interpolate_states(original: dict[str, torch.Tensor], unlearned: dict[str, torch.Tensor],
                       a: float) -> dict[str, torch.Tensor]:
    """a·unlearned + (1 − a)·original for floating-point tensors; other entries (BatchNorm
    step counters) are taken from `unlearned`."""
    if original.keys() != unlearned.keys():
        raise ValueError("souping needs two state dicts of the same architecture")
    return {k: torch.lerp(original[k], unlearned[k], a) if unlearned[k].is_floating_point() else unlearned[k]
            for k in unlearned}


@torch.no_grad()
def calibration_accuracy(model, images: ImageSet, class_emb: torch.Tensor, device: torch.device,
                         batch_size: int, margin: float = 0.0) -> float:
    """Zero-shot accuracy of `model` on `images` against the (C, D) class embeddings, where an
    image counts as recognised while its class cosine is within `margin` of the best other
    class's (margin 0: plain top-1 accuracy; a margin > 0 is a conservative forget measure)."""
    if not len(images):
        return float("nan")
    cosines = image_features(model, images, device, batch_size) @ class_emb.T
    labels = torch.as_tensor(images.labels, device=cosines.device)
    own = cosines.gather(1, labels[:, None]).squeeze(1)
    return float((own > best_rival(cosines, labels) - margin).float().mean())


def soup_curve(model, original: dict[str, torch.Tensor], unlearned: dict[str, torch.Tensor], grid: list[float],
               measure: Callable[[torch.nn.Module], dict[str, float]]) -> list[dict[str, float]]:
    """[{a, forget/acc, retain/acc}] for a = 0 (the original, the reference) and every grid value,
    each measured by `measure(model)` with the souped weights loaded into `model`."""
    curve = []
    for a in progress([0.0, *grid], "soup search", unit="a"):
        model.load_state_dict(interpolate_states(original, unlearned, a))
        curve.append({"a": a, **measure(model)})
    return curve


def choose_a(curve: list[dict[str, float]], rule: SoupRule, forget_target: float,
             objective: Objective = Objective.score) -> float:
    """The a a rule picks from a curve whose first point (a = 0) is the original model."""
    reference, candidates = curve[0], curve[1:]
    if not candidates:
        raise UnlearnError("soup grid is empty; give at least one a in (0, 1]")
    if rule == "best_score":
        return max(candidates, key=lambda p: (SCORES[objective](reference, p), -p["a"]))["a"]
    below = [p for p in candidates if p["forget/acc"] <= forget_target]
    if not below:
        return min(candidates, key=lambda p: (p["forget/acc"], -p["a"]))["a"]
    if rule == "smallest_below":
        return min(p["a"] for p in below)
    return max(below, key=lambda p: (p["retain/acc"], -p["a"]))["a"]


SOUP_AXIS = "a  (θ = a·θ_unlearned + (1 − a)·θ_original)"


def plot_curve(curve: list[dict[str, float]], chosen: float, forget_target: float, path: Path) -> Path:
    """Calibration forget/retain accuracy against a, with the chosen a marked, as a PNG."""
    a = [p["a"] for p in curve]
    fig = figure(5, 3.5)
    ax = fig.subplots()
    ax.plot(a, [100 * p["forget/acc"] for p in curve], "o-", label="forget (calibration)")
    ax.plot(a, [100 * p["retain/acc"] for p in curve], "s-", label="retain (calibration)")
    ax.axhline(100 * forget_target, color="grey", linestyle=":", label="forget target")
    ax.axvline(chosen, color="black", linestyle="--", label=f"chosen a = {chosen:g}")
    ax.set_xlabel(SOUP_AXIS)
    ax.set_ylabel("zero-shot accuracy (%)")
    ax.legend(fontsize=8)
    return save_png(fig, path, dpi=100)
