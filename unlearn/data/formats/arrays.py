"""Datasets stored as arrays in their distributors' own files: CIFAR-10/100 (python pickle
batches) and STL-10 (binary). `dataset.download=true` fetches them with torchvision, which
also verifies the checksums; reading is done here because torchvision's readers insist on the
full-size files' checksums and drop CIFAR-100's coarse labels."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from unlearn.config.schema import RealDatasetConfig
from unlearn.data import catalog
from unlearn.data.base import ImageSet, LoadedData
from unlearn.data.formats import FORMATS
from unlearn.data.images import ArrayImages, download_with_torchvision, prompt_name, require_dir
from unlearn.errors import UnlearnError


@dataclass
class DownloadableDatasetConfig(RealDatasetConfig):
    download: bool = False  # fetch into root with torchvision when missing (needs network)


def _cifar10_catalog(cfg) -> catalog.Catalog:
    return catalog.Catalog(cfg.name, catalog.spaced(catalog.class_list("cifar10")))


def _cifar100_catalog(cfg) -> catalog.Catalog:
    groups = {prompt_name(k): catalog.spaced(v) for k, v in catalog.cifar100_superclasses().items()}
    return catalog.Catalog(cfg.name, catalog.spaced(catalog.class_list("cifar100")), groups=groups)

CIFAR_FILES = {
    # format: (folder, training batches, test batches, meta file, label key, names key)
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "batches.meta",
                "labels", "label_names"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "meta", "fine_labels", "fine_label_names"),
}


def _layout(fmt: str) -> str:
    folder, train, test, meta, _, _ = CIFAR_FILES[fmt]
    return f"root/{folder}/{{{','.join(train + test + [meta])}}} (the python version of {fmt})"


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")  # the batches were pickled by Python 2


def _cifar_batches(folder: Path, names: list[str], label_key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    batches = [_unpickle(folder / n) for n in names]
    images = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = np.concatenate([b[label_key] for b in batches]).astype(np.int64)
    coarse = np.concatenate([b["coarse_labels"] for b in batches]).astype(np.int64) if "coarse_labels" in batches[0] else None
    return np.ascontiguousarray(images), labels, coarse


def _image_set(images: np.ndarray, labels: np.ndarray, transform: Callable, num_workers: int) -> ImageSet:
    return ImageSet(ArrayImages(images, labels, transform), labels, num_workers=num_workers)


@FORMATS.register("cifar10", DownloadableDatasetConfig, catalog=_cifar10_catalog)
@FORMATS.register("cifar100", DownloadableDatasetConfig, catalog=_cifar100_catalog)
def load_cifar(cfg, transform: Callable, with_train: bool) -> LoadedData:
    if cfg.download:
        download_with_torchvision(cfg)
    folder_name, train_files, test_files, meta_file, label_key, names_key = CIFAR_FILES[cfg.format]
    folder = require_dir(Path(cfg.root).expanduser(), _layout(cfg.format)) / folder_name
    missing = [n for n in train_files + test_files + [meta_file] if not (folder / n).is_file()]
    if missing:
        raise UnlearnError(f"{cfg.format} files {', '.join(missing)} missing under {str(folder)!r}; "
                           f"expected layout {_layout(cfg.format)} (or set dataset.download=true)")
    meta = _unpickle(folder / meta_file)
    classnames = [prompt_name(n) for n in meta[names_key]]
    test_images, test_labels, test_coarse = _cifar_batches(folder, test_files, label_key)
    loaded = LoadedData(classnames, _image_set(test_images, test_labels, transform, cfg.num_workers))
    if test_coarse is not None:  # CIFAR-100: each fine class sits in one of 20 superclasses
        coarse_names = [prompt_name(n) for n in meta["coarse_label_names"]]
        loaded.groups = {name: sorted({classnames[f] for f in test_labels[test_coarse == c]})
                         for c, name in enumerate(coarse_names)}
    if with_train:
        images, labels, _ = _cifar_batches(folder, train_files, label_key)
        loaded.train = _image_set(images, labels, transform, cfg.num_workers)
    return loaded


STL10_LAYOUT = "root/stl10_binary/{train_X.bin,train_y.bin,test_X.bin,test_y.bin,class_names.txt}"


def _stl10_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    # images are stored column-major: (N, 3, 96, 96) with width before height; labels are 1-based
    images = np.fromfile(folder / f"{split}_X.bin", dtype=np.uint8).reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)
    labels = np.fromfile(folder / f"{split}_y.bin", dtype=np.uint8).astype(np.int64) - 1
    return np.ascontiguousarray(images), labels


@FORMATS.register("stl10", DownloadableDatasetConfig)
def load_stl10(cfg, transform: Callable, with_train: bool) -> LoadedData:
    if cfg.download:
        download_with_torchvision(cfg)
    folder = require_dir(Path(cfg.root).expanduser(), STL10_LAYOUT) / "stl10_binary"
    needed = ["test_X.bin", "test_y.bin", "class_names.txt"] + (["train_X.bin", "train_y.bin"] if with_train else [])
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise UnlearnError(f"stl10 files {', '.join(missing)} missing under {str(folder)!r}; expected layout {STL10_LAYOUT}")
    classnames = [prompt_name(n) for n in (folder / "class_names.txt").read_text().split()]
    loaded = LoadedData(classnames, _image_set(*_stl10_split(folder, "test"), transform, cfg.num_workers))
    if with_train:
        loaded.train = _image_set(*_stl10_split(folder, "train"), transform, cfg.num_workers)
    return loaded
