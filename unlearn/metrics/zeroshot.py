"""`zeroshot`: top-1 zero-shot accuracy on the forget, retain and others test images and on every
held-out suite, with the dataset's evaluation prompts (unlearn/evaluation.py does the work)."""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.config.schema import MetricConfig
from unlearn.metrics import METRICS


@dataclass
class ZeroshotConfig(MetricConfig):
    pass


@METRICS.register("zeroshot", ZeroshotConfig)
def zeroshot(mctx, model, cfg) -> dict[str, float]:
    return mctx.evaluator(model)[0]
