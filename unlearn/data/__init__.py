"""Dataset registry: `dataset.format` names the builder."""

from __future__ import annotations

from typing import Callable

from unlearn.data.base import Benchmark
from unlearn.errors import UnlearnError, choices


def build_benchmark(cfg, transform: Callable) -> Benchmark:
    from unlearn.data.image_folder import build_image_folder
    from unlearn.data.synthetic_benchmark import build_synthetic

    builders = {
        "synthetic": lambda: build_synthetic(cfg),
        "image_folder": lambda: build_image_folder(cfg, transform),
    }
    if cfg.format not in builders:
        raise UnlearnError(f"unknown dataset format {cfg.format!r}; valid: {choices(builders)}")
    return builders[cfg.format]()
