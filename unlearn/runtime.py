"""Device, threads and seeding."""

from __future__ import annotations

import random

import numpy as np
import torch

from unlearn.errors import UnlearnError


def configure_threads(num_threads: int | None) -> None:
    """Tiny models on CPU spend most time waking threads; one thread is 10-25x faster there."""
    if num_threads:
        torch.set_num_threads(num_threads)


def select_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UnlearnError(f"device={name} but no CUDA device is available; valid here: auto, cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise UnlearnError(f"unknown device {name!r}; valid: auto, cpu, cuda, cuda:N")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
