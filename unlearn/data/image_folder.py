"""Generic ImageFolder benchmark: root/<split>/<class>/<image>, class names from folder names."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from torchvision.datasets import ImageFolder

from unlearn.data.base import Benchmark, ImageSet
from unlearn.errors import UnlearnError

LAYOUT = "root/{train,val}/<class name>/<image>.{jpg,png}"


def _folder_set(root: Path, split: str, transform: Callable, num_workers: int) -> tuple[ImageSet, list[str]]:
    folder = root / split
    if not folder.is_dir():
        raise UnlearnError(f"dataset folder {str(folder)!r} does not exist; expected layout {LAYOUT}")
    try:
        data = ImageFolder(str(folder), transform=transform)
    except (FileNotFoundError, RuntimeError) as err:
        raise UnlearnError(f"dataset folder {str(folder)!r} does not match layout {LAYOUT}: {err}") from None
    return ImageSet(data, np.asarray(data.targets, dtype=np.int64), num_workers=num_workers), data.classes


def build_image_folder(cfg, transform: Callable) -> Benchmark:
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise UnlearnError(f"dataset root {str(root)!r} does not exist; expected layout {LAYOUT}")
    train, classnames = _folder_set(root, cfg.train_split, transform, cfg.num_workers)
    test, test_classes = _folder_set(root, cfg.test_split, transform, cfg.num_workers)
    if test_classes != classnames:
        raise UnlearnError(f"class folders of {cfg.train_split!r} and {cfg.test_split!r} differ under {str(root)!r}")
    return Benchmark(
        name=cfg.name,
        classnames=[c.replace("_", " ") for c in classnames],
        templates=list(cfg.templates),
        train_templates=list(cfg.train_templates),
        train=train,
        calib=train,
        test=test,
        zeroshot={},
    )
