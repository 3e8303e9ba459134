"""Generic ImageFolder dataset: root/<split>/<class>/<image>, class names from folder names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from omegaconf import MISSING
from torchvision.datasets import ImageFolder

from unlearn.config.schema import DatasetConfig
from unlearn.data.base import ImageSet, LoadedData
from unlearn.data.formats import FORMATS
from unlearn.data.images import FileImages, prompt_name, require_dir
from unlearn.errors import UnlearnError

LAYOUT = "root/{train,val}/<class name>/<image>.{jpg,png}"


@dataclass
class ImageFolderDatasetConfig(DatasetConfig):
    root: str = MISSING  # root/{train,val}/<class>/<image>
    train_split: str = "train"
    test_split: str = "val"


def _folder_set(root: Path, split: str, transform: Callable, num_workers: int) -> tuple[ImageSet, list[str]]:
    folder = require_dir(root / split, LAYOUT, "dataset folder")
    try:
        found = ImageFolder(str(folder))  # the file list and class folders; decoding is FileImages'
    except (FileNotFoundError, RuntimeError) as err:
        raise UnlearnError(f"dataset folder {str(folder)!r} does not match layout {LAYOUT}: {err}") from None
    labels = np.asarray(found.targets, dtype=np.int64)
    images = FileImages([path for path, _ in found.samples], labels, transform)
    return ImageSet(images, labels, num_workers=num_workers), found.classes


@FORMATS.register("image_folder", ImageFolderDatasetConfig)
def load_image_folder(cfg, transform: Callable, with_train: bool) -> LoadedData:
    """The training pool doubles as the calibration pool (no calibration split in this layout)."""
    root = require_dir(Path(cfg.root).expanduser(), LAYOUT)
    test, classnames = _folder_set(root, cfg.test_split, transform, cfg.num_workers)
    loaded = LoadedData([prompt_name(c) for c in classnames], test)
    if with_train:
        train, train_classes = _folder_set(root, cfg.train_split, transform, cfg.num_workers)
        if train_classes != classnames:
            raise UnlearnError(f"class folders of {cfg.train_split!r} and {cfg.test_split!r} differ under {str(root)!r}")
        loaded.train = loaded.calib = train
    return loaded
