"""Small helpers the method tests share."""

from __future__ import annotations

import dataclasses

import torch
from torch.utils.data import Dataset

from unlearn.data.base import ImageSet
from unlearn.loggers import NullLogger


class Untouchable(Dataset):
    """A data set that fails the test the moment any image is read."""

    def __init__(self, size: int):
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index):
        raise AssertionError("this data set must not be read")


def without(task, *fields: str):
    """The task with the named image sets made unreadable."""
    return dataclasses.replace(task, **{f: ImageSet(Untouchable(len(getattr(task, f))), getattr(task, f).labels)
                                        for f in fields})


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


class RecordingLogger(NullLogger):
    """Keeps what a method logs: per-step metrics, tables and summary values."""

    def __init__(self):
        self.steps, self.tables, self.summaries = [], {}, {}

    def log(self, metrics, step=None):
        self.steps.append(metrics)

    def table(self, name, columns, rows):
        self.tables[name] = rows

    def summary(self, metrics):
        self.summaries.update(metrics)
