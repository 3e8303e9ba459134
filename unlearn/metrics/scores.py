"""`scores`: the run's aggregate scores from its before and after accuracies (formulas.py)."""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.config.schema import MetricConfig
from unlearn.metrics import METRICS
from unlearn.metrics.formulas import SCORES, score_components


@dataclass
class ScoresConfig(MetricConfig):
    pass


@METRICS.register("scores", ScoresConfig, aggregate=True, needs=("zeroshot",), keys=tuple(SCORES))
def scores(before: dict[str, float], after: dict[str, float], cfg) -> dict:
    return {**{name: compute(before, after) for name, compute in SCORES.items()},
            "score_components": score_components(before, after)}
