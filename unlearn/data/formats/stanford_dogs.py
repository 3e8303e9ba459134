"""Stanford Dogs (Khosla et al. 2011), with either split:

| `dataset.split` | train / calibration / test | per class |
|---|---|---|
| `coop` (default) | a CoOp-style split JSON (`split_file`): its train / val / test lists | as the file says |
| `official` | the dataset's own `lists/train_list.mat` / `test_list.mat`; calibration carved from train (`calib_fraction`) | 100 train, the rest (48-152) test |

Which split the space-adaptation paper used is not settled: its per-class accuracies imply 61 test
images for both Pekinese and toy poodle (43/61, 48/61; 35/61, 37/61), where the official split has
49 and 51 (see docs/methods/space_adaptation.md). Class names and order are the same in both: the WordNet lemmas of the
120 synsets in id order, which is also the official label order (1 = n02085620, Chihuahua).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Callable

import numpy as np

from unlearn.data import catalog
from unlearn.data.base import ImageSet, LoadedData
from unlearn.data.formats import FORMATS
from unlearn.data.formats.file_lists import SplitJsonDatasetConfig, load_split_json, split_json_catalog
from unlearn.data.images import FileImages, require_dir
from unlearn.errors import UnlearnError

OFFICIAL_LAYOUT = ("root/{Images/<WordNet id>-<breed>/<image>.jpg, lists/train_list.mat, lists/test_list.mat} "
                   "(the official images.tar and lists.tar)")


class DogsSplit(StrEnum):
    coop = "coop"  # a CoOp-style split JSON
    official = "official"  # the dataset's train_list.mat / test_list.mat


@dataclass
class StanfordDogsConfig(SplitJsonDatasetConfig):
    split: DogsSplit = DogsSplit.coop


def _official_list(path: Path, wnids: list[str]) -> tuple[list[str], np.ndarray]:
    """(image paths relative to Images/, 0-based labels) of one official .mat list, each label
    checked against the WordNet id of its folder."""
    from scipy.io import loadmat

    if not path.is_file():
        raise UnlearnError(f"split list {str(path)!r} does not exist; expected layout {OFFICIAL_LAYOUT}")
    mat = loadmat(path)
    files = [str(np.ravel(entry)[0]) for entry in np.ravel(mat["file_list"])]
    labels = np.ravel(mat["labels"]).astype(np.int64) - 1
    for file, label in zip(files, labels):
        if not 0 <= label < len(wnids) or not file.startswith(wnids[label]):
            raise UnlearnError(f"{str(path)!r}: {file!r} has label {label + 1}, whose WordNet id is "
                               f"{wnids[label] if 0 <= label < len(wnids) else 'none'}; expected layout {OFFICIAL_LAYOUT}")
    return files, labels


def load_official(cfg, transform: Callable, with_train: bool) -> LoadedData:
    root = require_dir(Path(cfg.root).expanduser(), OFFICIAL_LAYOUT)
    images = require_dir(root / "Images", OFFICIAL_LAYOUT, "dataset folder")
    wnids = catalog.class_list("stanford_dogs_wnids")

    def image_set(split: str) -> ImageSet:
        files, labels = _official_list(root / "lists" / f"{split}_list.mat", wnids)
        return ImageSet(FileImages([str(images / f) for f in files], labels, transform), labels,
                        num_workers=cfg.num_workers)

    loaded = LoadedData(catalog.spaced(catalog.stanford_dogs_classnames()), image_set("test"))
    if with_train:  # calibration: carved out of train by build_benchmark (dataset.calib_fraction)
        loaded.train = image_set("train")
    return loaded


@FORMATS.register("stanford_dogs", StanfordDogsConfig, catalog=split_json_catalog)
def load_stanford_dogs(cfg, transform: Callable, with_train: bool) -> LoadedData:
    if cfg.split == DogsSplit.official:
        return load_official(cfg, transform, with_train)
    return load_split_json(cfg, transform, with_train)
