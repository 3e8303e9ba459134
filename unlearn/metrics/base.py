"""What a model metric receives (MetricContext), and the measurements several metrics share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from unlearn.data.base import Benchmark, ImageSet
from unlearn.data.tasks import UnlearningTask
from unlearn.evaluation import Evaluator
from unlearn.zeroshot import image_features


@dataclass
class MetricContext:
    bench: Benchmark
    task: UnlearningTask
    forget: Any  # the forget spec (config node: name, kind, classes, attributes), or the list of a job's deletion requests
    tokenizer: Callable
    device: torch.device
    evaluator: Evaluator  # the run's evaluator: cached features of the task's test set
    seed: int
    batch_size: int
    before: dict[str, float]  # the original model's `eval.metrics` (e.g. relearn's half-way mark)

    def rng(self, stream: int) -> np.random.Generator:
        """A generator for one metric's draws, fixed by the run seed (`stream` keeps metrics apart)."""
        return np.random.default_rng([self.seed, stream])

    def test_part(self, part: str, cap: int | None = None, stream: int = 0) -> ImageSet:
        """The test images of `forget`, `retain` or `others`, at most `cap` of them (seeded)."""
        indices = np.flatnonzero(self.task.test_masks[part])
        if cap is not None and len(indices) > cap:
            indices = np.sort(self.rng(stream).choice(indices, size=cap, replace=False))
        return self.task.test.subset(indices)


@torch.no_grad()
def features(model, images: ImageSet, mctx: MetricContext) -> torch.Tensor:
    """(N, D) unit-norm image features, uncached (for models and sets the evaluator does not hold)."""
    return image_features(model, images, mctx.device, mctx.batch_size, "audit features")


@torch.no_grad()
def head(model, mctx: MetricContext, templates: list[str]) -> torch.Tensor:
    """(C, D) class embeddings of every class of the dataset with `templates`: the evaluator's,
    encoded a chunk of classes at a time (ImageNet × 80 templates) and cached while the text tower
    is unchanged."""
    return mctx.evaluator.class_head(model, mctx.bench.classnames, list(templates))


def accuracy(logits: torch.Tensor, labels: np.ndarray) -> float | None:
    """Top-1 accuracy; None for an empty set (written as null, never as a made-up number)."""
    if not len(labels):
        return None
    return float((logits.argmax(1).cpu().numpy() == labels).mean())


def images_and_labels(images: ImageSet, mctx: MetricContext) -> tuple[torch.Tensor, torch.Tensor]:
    """A whole (small) image set as one batch on the device."""
    x, y = images.tensors(mctx.batch_size)
    return x.to(mctx.device), y.to(mctx.device)
