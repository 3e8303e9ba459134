"""Datasets whose splits are lists in a file: CoOp-style split JSON (Caltech-101, Flowers-102,
Stanford Cars and Dogs, ...) and Food-101's meta/{train,test}.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from omegaconf import MISSING

from unlearn.config.schema import RealDatasetConfig
from unlearn.data import catalog
from unlearn.data.base import ImageSet, LoadedData
from unlearn.data.formats import FORMATS
from unlearn.data.formats.arrays import DownloadableDatasetConfig
from unlearn.data.images import FileImages, download_with_torchvision, prompt_name, require_dir
from unlearn.errors import UnlearnError


@dataclass
class SplitJsonDatasetConfig(RealDatasetConfig):  # CoOp-style split JSON
    split_file: str = MISSING  # relative to root
    image_dir: str = ""  # image paths in the split file are relative to root/image_dir
    class_list: Optional[str] = None  # metadata list that names the classes without the data


def split_json_catalog(cfg) -> catalog.Catalog:
    if cfg.class_list is None:
        raise UnlearnError(f"dataset {cfg.name} lists no classes without its split file; set dataset.class_list")
    if cfg.class_list == "stanford_dogs":
        return catalog.Catalog(cfg.name, catalog.spaced(catalog.stanford_dogs_classnames()))
    return catalog.Catalog(cfg.name, catalog.spaced(catalog.class_list(cfg.class_list)))


SPLIT_JSON_LAYOUT = ('root/<split_file> = {"train": [[<image path under root/<image_dir>>, <label>, <class name>], ...], '
                     '"val": [...], "test": [...]} (CoOp split_zhou_*.json)')
FOOD101_LAYOUT = "root/food-101/{images/<class>/<id>.jpg, meta/train.json, meta/test.json}"


def _read_json(path: Path, layout: str) -> dict:
    if not path.is_file():
        raise UnlearnError(f"split file {str(path)!r} does not exist; expected layout {layout}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UnlearnError(f"split file {str(path)!r} is not valid JSON ({err}); expected layout {layout}") from None


def _split_classnames(splits: dict, path: Path) -> list[str]:
    """Class names by label, checked to be one name per label 0..C-1 across all splits."""
    names: dict[int, str] = {}
    for items in splits.values():
        for _, label, name in items:
            if names.setdefault(int(label), name) != name:
                raise UnlearnError(f"label {label} is named both {names[int(label)]!r} and {name!r} in {str(path)!r}")
    if sorted(names) != list(range(len(names))):
        raise UnlearnError(f"labels in {str(path)!r} are not 0..{len(names) - 1}; expected layout {SPLIT_JSON_LAYOUT}")
    return [prompt_name(names[i]) for i in range(len(names))]


@FORMATS.register("split_json", SplitJsonDatasetConfig, catalog=split_json_catalog)
def load_split_json(cfg, transform: Callable, with_train: bool) -> LoadedData:
    root = require_dir(Path(cfg.root).expanduser(), SPLIT_JSON_LAYOUT)
    path = root / cfg.split_file
    splits = _read_json(path, SPLIT_JSON_LAYOUT)
    missing = [s for s in ("train", "val", "test") if s not in splits]
    if missing:
        raise UnlearnError(f"split file {str(path)!r} has no {', '.join(missing)} list; expected layout {SPLIT_JSON_LAYOUT}")
    classnames = _split_classnames(splits, path)
    image_dir = root / cfg.image_dir

    def image_set(split: str) -> ImageSet:
        items = splits[split]
        paths = [str(image_dir / p) for p, _, _ in items]
        absent = [p for p in paths[:1] if not Path(p).is_file()]  # one probe: a wrong image_dir shows at once
        if absent:
            raise UnlearnError(f"image {absent[0]!r} listed in {str(path)!r} does not exist; check dataset.image_dir "
                               f"(expected layout {SPLIT_JSON_LAYOUT})")
        labels = np.asarray([label for _, label, _ in items], dtype=np.int64)
        return ImageSet(FileImages(paths, labels, transform), labels, num_workers=cfg.num_workers)

    loaded = LoadedData(classnames, image_set("test"))
    if with_train:  # CoOp's val split is the calibration pool: no training image is reused for it
        loaded.train, loaded.calib = image_set("train"), image_set("val")
    return loaded


@FORMATS.register("food101", DownloadableDatasetConfig)
def load_food101(cfg, transform: Callable, with_train: bool) -> LoadedData:
    if cfg.download:
        download_with_torchvision(cfg)
    base = require_dir(Path(cfg.root).expanduser(), FOOD101_LAYOUT) / "food-101"
    splits = {s: _read_json(base / "meta" / f"{s}.json", FOOD101_LAYOUT) for s in (("train", "test") if with_train else ("test",))}
    classes = sorted(splits["test"])  # the order torchvision's Food101 uses

    def image_set(split: str) -> ImageSet:
        paths, labels = [], []
        for label, name in enumerate(classes):
            ids = splits[split].get(name, [])
            paths += [str(base / "images" / f"{i}.jpg") for i in ids]
            labels += [label] * len(ids)
        labels = np.asarray(labels, dtype=np.int64)
        return ImageSet(FileImages(paths, labels, transform), labels, num_workers=cfg.num_workers)

    loaded = LoadedData([prompt_name(c) for c in classes], image_set("test"))
    if with_train:
        loaded.train = image_set("train")
    return loaded
