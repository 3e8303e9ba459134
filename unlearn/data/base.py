"""Containers shared by every dataset: labelled image sets and a benchmark of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset

from unlearn.cost import count_decoded


@dataclass
class ImageSet:
    """Labelled images: a torch Dataset of (image, label) plus per-sample metadata."""

    dataset: Dataset
    labels: np.ndarray
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    num_workers: int = 0  # loader processes that decode images (real datasets on a GPU box)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> "ImageSet":
        indices = np.asarray(indices, dtype=np.int64)
        return ImageSet(
            dataset=Subset(self.dataset, indices.tolist()),
            labels=self.labels[indices],
            attributes={k: v[indices] for k, v in self.attributes.items()},
            num_workers=self.num_workers,
        )

    def loader(self, batch_size: int, shuffle: bool = False, seed: int = 0, num_workers: int | None = None,
               pin_memory: bool = False) -> Iterable:
        """Batches of (images, labels); `num_workers=None` uses the set's own setting. Images
        decoded on the way count in the job's cost (unlearn/cost.py)."""
        generator = torch.Generator().manual_seed(seed)
        workers = self.num_workers if num_workers is None else num_workers
        loader = DataLoader(self.dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                            num_workers=workers, pin_memory=pin_memory)
        return _Decoding(loader) if self.decodes else loader

    def tensors(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole set as one (images, labels) pair of CPU tensors, in order, read `batch_size`
        images at a time."""
        batches = list(self.loader(batch_size))
        return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])

    @property
    def decodes(self) -> bool:
        """Whether reading an image decodes it (files, arrays), rather than indexing a tensor or a
        cache (a dataset class says so with `decodes = False`)."""
        return _decodes(self.dataset)


def _decodes(dataset: Dataset) -> bool:
    if isinstance(dataset, Subset):
        return _decodes(dataset.dataset)
    if isinstance(dataset, ConcatDataset):  # e.g. EMMN's two noise sets
        return any(_decodes(part) for part in dataset.datasets)
    return getattr(dataset, "decodes", not isinstance(dataset, TensorDataset))


class _Decoding:
    """A DataLoader whose batches count as decoded images."""

    def __init__(self, loader: DataLoader):
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        for batch in self.loader:
            count_decoded(len(batch[1]))
            yield batch


@dataclass
class ZeroShotSuite:
    """An evaluation set with its own class list and prompts (an 'unseen dataset')."""

    images: ImageSet
    classnames: list[str]
    templates: list[str]


@dataclass
class LoadedData:
    """What a dataset format's loader read: the test split always, the training pool when asked for."""

    classnames: list[str]
    test: ImageSet
    train: ImageSet | None = None
    calib: ImageSet | None = None  # None: carved out of `train` (dataset.calib_fraction)
    attribute_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    zeroshot: dict[str, "ZeroShotSuite"] = field(default_factory=dict)  # suites built into the dataset


@dataclass
class Benchmark:
    """What the pipeline needs from a dataset: class names, prompts, and the splits."""

    name: str
    classnames: list[str]
    templates: list[str]
    train_templates: list[str]
    train: ImageSet  # pool the forget/retain training sets are drawn from
    calib: ImageSet  # small calibration pool (e.g. souping's a-search)
    test: ImageSet
    zeroshot: dict[str, ZeroShotSuite]
    # attribute name -> valid values, for validating `forget.attributes`
    attribute_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # coarse group -> its member classes (e.g. monkey -> marmoset, capuchin, ...): a subgroup
    # forget spec without attributes forgets a class and keeps its group siblings
    groups: dict[str, list[str]] = field(default_factory=dict)
    preserve_names: list[str] = field(default_factory=list)  # near neighbours of the classes (dataset.preserve_names)
    audit_prompts: dict[str, list[str]] = field(default_factory=dict)  # the audit's paraphrase sets

    @property
    def loss_templates(self) -> list[str]:
        """Prompts for training losses: the training templates, kept apart from evaluation's."""
        return self.train_templates or self.templates
