"""`probe`: a linear probe on frozen image features (logistic regression, scikit-learn). If a probe
trained without the forgotten images still classifies them, the knowledge is still in the image
features and only the image-text alignment changed.

| forget spec | probe training images (from the training pool, never the test images) |
|---|---|
| with attributes (subgroup, style) | every training image outside the spec, the siblings included, at most `train_images` |
| whole classes (`task.forget_whole_classes`: class, subgroup of a coarse group) | `shots` images of every class, the forget classes included |

Tested on the forget test images and the retain test images: `probe/forget/acc`, `probe/retain/acc`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unlearn.config.ranges import at_least, positive
from unlearn.config.schema import MetricConfig
from unlearn.data.tasks import spec_masks
from unlearn.metrics import METRICS
from unlearn.metrics.base import features


@dataclass
class ProbeConfig(MetricConfig):
    train_images: int = at_least(1, 2000)  # cap on the probe's training images (specs with attributes)
    shots: int = at_least(1, 16)  # training images per class (whole-class specs)
    c: float = positive(1.0)  # inverse L2 strength of the logistic regression
    max_iter: int = at_least(1, 1000)


@METRICS.register("probe", ProbeConfig)
def probe(mctx, model, cfg) -> dict[str, float | None]:
    from sklearn.linear_model import LogisticRegression  # here: every job registers this module, few run it

    train = mctx.bench.train.subset(training_indices(mctx, cfg))
    classifier = LogisticRegression(C=cfg.c, max_iter=cfg.max_iter)
    classifier.fit(features(model, train, mctx).cpu().numpy(), train.labels)
    out = {}
    for part in ("forget", "retain"):
        test = mctx.test_part(part)
        predicted = classifier.predict(features(model, test, mctx).cpu().numpy())
        out[f"probe/{part}/acc"] = float((predicted == test.labels).mean()) if len(test) else None
    return out


def training_indices(mctx, cfg) -> np.ndarray:
    """Indices into the training pool (see the module docstring), drawn with the run seed."""
    rng, pool = mctx.rng(stream=3), mctx.bench.train
    if not mctx.task.forget_whole_classes:
        outside = np.flatnonzero(~spec_masks(mctx.bench, mctx.forget, pool)[0])
        return np.sort(rng.choice(outside, size=min(cfg.train_images, len(outside)), replace=False))
    per_class = [rng.permutation(np.flatnonzero(pool.labels == c))[:cfg.shots] for c in np.unique(pool.labels)]
    return np.sort(np.concatenate(per_class))
