"""Zero-shot evaluation shared by every method: forget / retain / others / held-out suites."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from unlearn.config.schema import Precision, Towers
from unlearn.data.base import Benchmark, ImageSet
from unlearn.data.cache import source_key, transform_key
from unlearn.data.tasks import UnlearningTask
from unlearn.feature_store import FeatureStore
from unlearn.models.anatomy import image_tower, tower_of
from unlearn.runtime import autocast
from unlearn.zeroshot import chunked_class_embeddings, image_features

# integer views of each float width: their sums see every changed bit
_INT_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    return float((pred == labels).mean()) if len(labels) else float("nan")


@torch.no_grad()
def weights_fingerprint(tensors) -> bytes:
    """Plain and position-weighted sums of every tensor's bit patterns, on its device: any edit
    of the weights or buffers (optimiser step, LoRA, souping, BN statistics) changes it."""
    sums = []
    for tensor in tensors:
        bits = tensor.detach().contiguous().view(_INT_OF_SIZE[tensor.element_size()]).flatten().long()
        positions = torch.arange(1, bits.numel() + 1, device=bits.device)
        sums.append(torch.stack([bits.sum(), (bits * positions).sum()]))
    return torch.stack(sums).cpu().numpy().tobytes() if sums else b""


def image_stamp(model) -> bytes:
    return weights_fingerprint(image_tower(model).state_dict().values())


def text_stamp(model) -> bytes:
    return weights_fingerprint(v for k, v in model.state_dict().items() if tower_of(k) != Towers.image)


class Evaluator:
    """Measures one model state. Text heads (per class list and prompts) and image features
    (per image set) are batched, computed under autocast on CUDA (`precision`), and cached
    while the weights of their tower stay the same: image-only edits reuse the heads,
    text-only edits and the original model reuse the features. With a `store`, the towers of the
    model given to `keep_on_disk` (the original) are also looked up and kept there, across jobs
    (unlearn/feature_store.py); intermediate states never are (nothing would read them again)."""

    def __init__(self, bench: Benchmark, task: UnlearningTask, tokenizer: Callable, device: torch.device,
                 batch_size: int, precision: Precision = Precision.fp32, store: FeatureStore | None = None):
        self.bench, self.task, self.tokenizer = bench, task, tokenizer
        self.device, self.batch_size = device, batch_size
        self.precision = precision
        self.store = store
        self._stored: set[bytes] = set()  # tower fingerprints whose outputs go to the store
        self._features: dict[int, tuple[bytes, torch.Tensor]] = {}  # id(image set) -> (fingerprint, features)
        self._heads: dict[tuple, tuple[bytes, torch.Tensor]] = {}  # (classes, templates) -> (fingerprint, head)

    def keep_on_disk(self, model) -> None:
        """Store the outputs of `model`'s towers while their weights stay as they are now."""
        if self.store is not None:
            self._stored |= {image_stamp(model), text_stamp(model)}

    def on(self, task: UnlearningTask) -> "Evaluator":
        """An evaluator of another task (e.g. the capped stage task) sharing this one's store and
        caches (a head serves every task; features are kept per image set)."""
        other = Evaluator(self.bench, task, self.tokenizer, self.device, self.batch_size, self.precision, self.store)
        other._stored, other._features, other._heads = self._stored, self._features, self._heads
        return other

    def _fetch(self, kind: str, stamp: bytes, key: Callable[[], tuple],
               compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """`compute()` under autocast, through the store when the weights are the original's and
        `key()` (called only then: it may hash a whole image set) names the inputs."""
        with autocast(self.device, self.precision):
            if stamp not in self._stored:
                return compute()
            parts = key()
            if None in parts:  # an image set the store cannot name (unlearn/data/cache.py, source_key)
                return compute()
            return self.store.fetch(kind, (stamp, *parts), compute).to(self.device)

    def image_features(self, model, images: ImageSet, name: str) -> torch.Tensor:
        stamp = image_stamp(model)
        cached = self._features.get(id(images))
        if cached is None or cached[0] != stamp:
            cached = (stamp, self._fetch(
                "features", stamp, lambda: (source_key(images.dataset), transform_key(images.dataset)),
                lambda: image_features(model, images, self.device, self.batch_size, f"features {name}")))
            self._features[id(images)] = cached
        return cached[1]

    def class_head(self, model, classnames: list[str], templates: list[str]) -> torch.Tensor:
        """(C, D) class embeddings, encoded a chunk of classes at a time (ImageNet's 1000 classes ×
        80 templates would not fit one batch), cached while the text tower is unchanged."""
        stamp = text_stamp(model)
        key = (tuple(classnames), tuple(templates))
        cached = self._heads.get(key)
        if cached is None or cached[0] != stamp:
            head = self._fetch("head", stamp, lambda: key, lambda: chunked_class_embeddings(
                model, self.tokenizer, classnames, templates, self.device).float())
            cached = self._heads[key] = (stamp, head)
        return cached[1]

    @torch.no_grad()
    def __call__(self, model) -> tuple[dict[str, float], dict[str, float]]:
        """(metrics, per-class test accuracy)."""
        was_training = model.training
        model.eval()

        def predict(name, images, classnames, templates) -> np.ndarray:
            head = self.class_head(model, classnames, templates)
            return (self.image_features(model, images, name) @ head.T).argmax(1).cpu().numpy()

        bench, task = self.bench, self.task
        pred = predict("test", task.test, bench.classnames, bench.templates)
        labels = task.test.labels
        metrics = {f"{name}/acc": _accuracy(pred[mask], labels[mask]) for name, mask in task.test_masks.items()}
        for name, suite in task.zeroshot.items():
            metrics[f"zeroshot/{name}/acc"] = _accuracy(
                predict(name, suite.images, suite.classnames, suite.templates), suite.images.labels
            )
        per_class = {
            bench.classnames[c]: _accuracy(pred[labels == c], labels[labels == c]) for c in np.unique(labels)
        }
        model.train(was_training)
        return metrics, per_class
