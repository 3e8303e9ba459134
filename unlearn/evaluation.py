"""Zero-shot evaluation shared by every method: forget / retain / others / held-out suites."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from unlearn.data.base import Benchmark
from unlearn.data.tasks import UnlearningTask
from unlearn.zeroshot import class_embeddings, image_features


def _accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float((pred == labels).mean()) if len(labels) else float("nan")


class Evaluator:
    """Measures one model state; text heads are built once per call and shared by the sets
    that use the same class list and prompts."""

    def __init__(self, bench: Benchmark, task: UnlearningTask, tokenizer: Callable, device: torch.device,
                 batch_size: int):
        self.bench, self.task, self.tokenizer = bench, task, tokenizer
        self.device, self.batch_size = device, batch_size

    @torch.no_grad()
    def __call__(self, model) -> tuple[dict[str, float], dict[str, float]]:
        """(metrics, per-class test accuracy)."""
        was_training = model.training
        model.eval()
        heads: dict[tuple, torch.Tensor] = {}

        def predict(images, classnames, templates) -> np.ndarray:
            key = (tuple(classnames), tuple(templates))
            if key not in heads:
                heads[key] = class_embeddings(model, self.tokenizer, classnames, templates, self.device)
            feats = image_features(model, images, self.device, self.batch_size)
            return (feats @ heads[key].T).argmax(1).cpu().numpy()

        bench, task = self.bench, self.task
        pred = predict(task.test, bench.classnames, bench.templates)
        labels = task.test.labels
        metrics = {f"{name}/acc": _accuracy(pred[mask], labels[mask]) for name, mask in task.test_masks.items()}
        for name, suite in task.zeroshot.items():
            metrics[f"zeroshot/{name}/acc"] = _accuracy(
                predict(suite.images, suite.classnames, suite.templates), suite.images.labels
            )
        per_class = {
            bench.classnames[c]: _accuracy(pred[labels == c], labels[labels == c]) for c in np.unique(labels)
        }
        model.train(was_training)
        return metrics, per_class
