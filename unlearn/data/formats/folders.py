"""Datasets laid out as folders of images: ImageNet-1k (WordNet-id folders), style datasets
(PACS, DomainNet, Office-Home as root/<style>/<class>/; ImageNet-R as root/<wnid>/<style>_<n>.jpg)
and ObjectNet-style class folders used as zero-shot suites."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from unlearn.config.ranges import fraction
from unlearn.config.schema import RealDatasetConfig
from unlearn.data import catalog
from unlearn.data.base import ImageSet, LoadedData
from unlearn.data.file_index import listed
from unlearn.data.formats import FORMATS
from unlearn.data.images import FileImages, holdout, prompt_name, require_dir, subfolders
from unlearn.errors import UnlearnError, choices


@dataclass
class ImageNetDatasetConfig(RealDatasetConfig):  # root/{train,val}/<wnid>/
    train_split: str = "train"
    test_split: str = "val"


@dataclass
class StyleDatasetConfig(RealDatasetConfig):  # style_folder | imagenet_r
    test_fraction: float = fraction(0.3, low_open=True, high_open=True)  # of every class x style cell, seeded by split_seed
    classes: list[str] = field(default_factory=list)  # expected class folders, in label order; empty: as found
    styles: list[str] = field(default_factory=list)  # expected styles; empty: as found


@dataclass
class ClassFolderDatasetConfig(RealDatasetConfig):  # root/<class>/<image>, evaluation only (ObjectNet)
    label_map: Optional[str] = None  # JSON object folder -> class name


def _imagenet_catalog(cfg) -> catalog.Catalog:
    return catalog.Catalog(cfg.name, catalog.imagenet_classnames(), groups=catalog.imagenet_groups())


def _imagenet_r_catalog(cfg) -> catalog.Catalog:
    name_of = dict(zip(catalog.imagenet_wnids(), catalog.imagenet_classnames()))
    return catalog.Catalog(cfg.name, [name_of[w] for w in catalog.imagenet_r_wnids()], {"style": tuple(cfg.styles)})


def _style_folder_catalog(cfg) -> catalog.Catalog:
    if not cfg.classes or not cfg.styles:
        raise UnlearnError(f"dataset {cfg.name} lists no classes/styles without its data; set dataset.classes and dataset.styles")
    return catalog.Catalog(cfg.name, catalog.spaced(list(cfg.classes)), {"style": tuple(cfg.styles)})

IMAGENET_LAYOUT = "root/{train,val}/<WordNet id, e.g. n01440764>/<image>.JPEG (val sorted into class folders)"
STYLE_LAYOUT = "root/<style>/<class>/<image>.jpg"
IMAGENET_R_LAYOUT = "root/<WordNet id>/<style>_<n>.jpg (the imagenet-r folder)"
CLASS_FOLDER_LAYOUT = "root/<class>/<image>.{jpg,png}"


def _files_of(folder: Path, names: list[str]) -> tuple[list[str], np.ndarray]:
    """Image paths under folder/<name> for each name, with the index of the name as label."""
    paths, labels = [], []
    for label, files in enumerate(listed(folder, names)):
        paths += [str(p) for p in files]
        labels += [label] * len(files)
    return paths, np.asarray(labels, dtype=np.int64)


def _file_set(paths: list[str], labels: np.ndarray, transform: Callable, num_workers: int,
              attributes: dict[str, np.ndarray] | None = None) -> ImageSet:
    return ImageSet(FileImages(paths, labels, transform), labels, attributes or {}, num_workers=num_workers)


def _require_images(paths: list, where: Path, layout: str) -> None:
    if not paths:
        raise UnlearnError(f"no images found under {str(where)!r}; expected layout {layout}")


def _wordnet_files(folder: Path, wnids: list[str], dataset: str, layout: str) -> tuple[list[str], np.ndarray]:
    """Image paths under folder/<WordNet id>/ and their labels as indices into `wnids` (the full
    class list, so a folder holding a subset of the classes works too)."""
    present = subfolders(folder)
    unknown = sorted(set(present) - set(wnids))
    if unknown:
        raise UnlearnError(f"folders {choices(unknown[:5])} under {str(folder)!r} are not {dataset} WordNet ids; "
                           f"expected layout {layout}")
    paths, local = _files_of(folder, present)
    _require_images(paths, folder, layout)
    index = {w: i for i, w in enumerate(wnids)}
    return paths, np.asarray([index[w] for w in present], dtype=np.int64)[local]


def _imagenet_split(root: Path, split: str, transform: Callable, num_workers: int) -> ImageSet:
    folder = require_dir(root / split, IMAGENET_LAYOUT, "dataset folder")
    paths, labels = _wordnet_files(folder, catalog.imagenet_wnids(), "ImageNet-1k", IMAGENET_LAYOUT)
    return _file_set(paths, labels, transform, num_workers)


@FORMATS.register("imagenet", ImageNetDatasetConfig, catalog=_imagenet_catalog)
def load_imagenet(cfg, transform: Callable, with_train: bool) -> LoadedData:
    root = require_dir(Path(cfg.root).expanduser(), IMAGENET_LAYOUT)
    loaded = LoadedData(catalog.imagenet_classnames(), _imagenet_split(root, cfg.test_split, transform, cfg.num_workers),
                        groups=catalog.imagenet_groups())
    if with_train:
        loaded.train = _imagenet_split(root, cfg.train_split, transform, cfg.num_workers)
    return loaded


def _check_expected(found: list[str], expected, what: str, where: Path, layout: str) -> None:
    if expected and sorted(found) != sorted(expected):
        raise UnlearnError(f"{what} folders under {str(where)!r} are {choices(found)}, expected {choices(expected)} "
                           f"(dataset.{what}); layout {layout}")


def _split_styled(cfg, paths: list[str], labels: np.ndarray, styles: np.ndarray, transform: Callable,
                  with_train: bool, classnames: list[str], style_names: list[str]) -> LoadedData:
    """Seeded train/test split inside every class × style cell."""
    style_index = {s: i for i, s in enumerate(style_names)}
    cell = labels * len(style_names) + np.asarray([style_index[s] for s in styles], dtype=np.int64)
    test = holdout(cell, cfg.test_fraction, cfg.split_seed)

    def part(mask: np.ndarray) -> ImageSet:
        idx = np.flatnonzero(mask)
        return _file_set([paths[i] for i in idx], labels[idx], transform, cfg.num_workers, {"style": styles[idx]})

    loaded = LoadedData(classnames, part(test), attribute_values={"style": tuple(style_names)})
    if with_train:
        loaded.train = part(~test)
    return loaded


@FORMATS.register("style_folder", StyleDatasetConfig, catalog=_style_folder_catalog)
def load_style_folder(cfg, transform: Callable, with_train: bool) -> LoadedData:
    root = require_dir(Path(cfg.root).expanduser(), STYLE_LAYOUT)
    style_names = subfolders(root)
    _check_expected(style_names, cfg.styles, "styles", root, STYLE_LAYOUT)
    class_folders = sorted({c for s in style_names for c in subfolders(root / s)})
    _check_expected(class_folders, cfg.classes, "classes", root, STYLE_LAYOUT)
    class_folders = list(cfg.classes) or class_folders  # the config's order, when it gives one
    paths, labels, styles = [], [], []
    for style in style_names:
        present = [c for c in class_folders if (root / style / c).is_dir()]
        style_paths, local = _files_of(root / style, present)
        paths += style_paths
        labels.append(np.asarray([class_folders.index(c) for c in present], dtype=np.int64)[local])
        styles += [style] * len(style_paths)
    _require_images(paths, root, STYLE_LAYOUT)
    return _split_styled(cfg, paths, np.concatenate(labels), np.asarray(styles), transform, with_train,
                         [prompt_name(c) for c in class_folders], style_names)


@FORMATS.register("imagenet_r", StyleDatasetConfig, catalog=_imagenet_r_catalog)
def load_imagenet_r(cfg, transform: Callable, with_train: bool) -> LoadedData:
    root = require_dir(Path(cfg.root).expanduser(), IMAGENET_R_LAYOUT)
    wnids = catalog.imagenet_r_wnids()
    paths, labels = _wordnet_files(root, wnids, "ImageNet-R", IMAGENET_R_LAYOUT)
    styles = np.asarray([Path(p).stem.rsplit("_", 1)[0] for p in paths])
    unknown_styles = sorted(set(styles.tolist()) - set(cfg.styles)) if cfg.styles else []
    if unknown_styles:
        raise UnlearnError(f"image name prefixes {choices(unknown_styles)} under {str(root)!r} are not in "
                           f"dataset.styles; expected layout {IMAGENET_R_LAYOUT}")
    style_names = list(cfg.styles) or sorted(set(styles.tolist()))
    name_of = dict(zip(catalog.imagenet_wnids(), catalog.imagenet_classnames()))
    return _split_styled(cfg, paths, labels, styles, transform, with_train, [name_of[w] for w in wnids], style_names)


@FORMATS.register("class_folder", ClassFolderDatasetConfig)
def load_class_folder(cfg, transform: Callable, with_train: bool) -> LoadedData:
    if with_train:
        raise UnlearnError(f"dataset format class_folder ({cfg.name}) is an evaluation-only layout: list it under eval.zeroshot")
    root = require_dir(Path(cfg.root).expanduser(), CLASS_FOLDER_LAYOUT)
    folders = subfolders(root)
    paths, labels = _files_of(root, folders)
    _require_images(paths, root, CLASS_FOLDER_LAYOUT)
    names = {f: prompt_name(f) for f in folders}
    if cfg.label_map:  # e.g. ObjectNet's mappings/folder_to_objectnet_label.json
        path = Path(cfg.label_map).expanduser()
        if not path.is_file():
            raise UnlearnError(f"dataset.label_map {str(path)!r} does not exist; expected a JSON object folder -> class name")
        names |= json.loads(path.read_text())
    return LoadedData([names[f] for f in folders], _file_set(paths, labels, transform, cfg.num_workers))
