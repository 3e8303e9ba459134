"""Tiny datasets written in the exact on-disk formats of the real ones, for the real loaders.

Images are small noisy squares tinted per class, so features differ between classes; the
class lists are the real ones (unlearn/data/metadata, timm, open_clip) or subsets of them.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from unlearn.data import catalog


def _pixels(rng: np.random.Generator, label: int, size: int = 32) -> np.ndarray:
    tint = np.array([(label * 67) % 256, (label * 131) % 256, (label * 29) % 256], dtype=np.int16)
    noise = rng.integers(-40, 40, size=(size, size, 3))
    return np.clip(tint + noise, 0, 255).astype(np.uint8)


def _save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _pickle(path: Path, payload: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(payload, f, protocol=2)


def write_cifar(root: Path, fmt: str, per_class: int = 2, seed: int = 0) -> Path:
    """root/cifar-10-batches-py (5 training batches, test_batch, batches.meta) or
    root/cifar-100-python (train, test, meta): pickled dicts of flat CHW uint8 rows."""
    rng = np.random.default_rng(seed)
    if fmt == "cifar10":
        names = catalog.class_list("cifar10")
        folder, train_files, test_files = root / "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]
    else:
        names = catalog.class_list("cifar100")
        coarse_names = list(catalog.cifar100_superclasses())
        coarse_of = {f: coarse_names.index(c) for c, fs in catalog.cifar100_superclasses().items() for f in fs}
        folder, train_files, test_files = root / "cifar-100-python", ["train"], ["test"]
    folder.mkdir(parents=True, exist_ok=True)

    def batch(labels: list[int]) -> dict:
        rows = np.stack([_pixels(rng, y).transpose(2, 0, 1).reshape(-1) for y in labels])
        payload = {"batch_label": "fake", "data": rows, "filenames": [f"{i}.png" for i in range(len(labels))]}
        if fmt == "cifar10":
            return payload | {"labels": labels}
        return payload | {"fine_labels": labels, "coarse_labels": [coarse_of[names[y]] for y in labels]}

    labels = [y for y in range(len(names)) for _ in range(per_class)]
    for i, name in enumerate(train_files):
        _pickle(folder / name, batch(labels[i::len(train_files)]))
    for name in test_files:
        _pickle(folder / name, batch(labels))
    if fmt == "cifar10":
        _pickle(folder / "batches.meta", {"label_names": names, "num_cases_per_batch": 10000, "num_vis": 3072})
    else:
        _pickle(folder / "meta", {"fine_label_names": names, "coarse_label_names": coarse_names})
    return root


def write_stl10(root: Path, per_class: int = 2, seed: int = 0) -> Path:
    """root/stl10_binary: {split}_X.bin (N, 3, 96, 96) column-major, {split}_y.bin 1-based labels."""
    rng = np.random.default_rng(seed)
    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "class_names.txt").write_text("\n".join(names) + "\n")
    labels = np.repeat(np.arange(len(names)), per_class)
    for split in ("train", "test"):
        images = np.stack([_pixels(rng, y, 96).transpose(2, 1, 0) for y in labels])
        images.astype(np.uint8).tofile(folder / f"{split}_X.bin")
        (labels + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")
    return root


def write_food101(root: Path, classes=("apple_pie", "baby_back_ribs", "sushi"), per_class: int = 2, seed: int = 0,
                  size: int = 32) -> Path:
    """root/food-101/images/<class>/<id>.jpg with meta/{train,test}.json and meta/classes.txt."""
    rng = np.random.default_rng(seed)
    base = root / "food-101"
    splits = {"train": {}, "test": {}}
    for y, name in enumerate(classes):
        for split in splits:
            ids = [f"{name}/{split}{i}" for i in range(per_class)]
            splits[split][name] = ids
            for i in ids:
                _save(base / "images" / f"{i}.jpg", _pixels(rng, y, size))
    (base / "meta").mkdir(parents=True, exist_ok=True)
    for split, content in splits.items():
        (base / "meta" / f"{split}.json").write_text(json.dumps(content))
    (base / "meta" / "classes.txt").write_text("\n".join(classes) + "\n")
    return root


def write_imagenet(root: Path, wnids: list[str], per_class: int = 2, seed: int = 0, size: int = 32) -> Path:
    """root/{train,val}/<wnid>/<wnid>_<i>.JPEG (val sorted into class folders)."""
    rng = np.random.default_rng(seed)
    index = {w: i for i, w in enumerate(catalog.imagenet_wnids())}
    for split in ("train", "val"):
        for w in wnids:
            for i in range(per_class):
                _save(root / split / w / f"{w}_{i}.JPEG", _pixels(rng, index[w], size))
    return root


def write_style_folder(root: Path, styles: list[str], classes: list[str], per_cell: int = 3, seed: int = 0) -> Path:
    """root/<style>/<class>/<i>.jpg (PACS, DomainNet, Office-Home)."""
    rng = np.random.default_rng(seed)
    for s, style in enumerate(styles):
        for y, name in enumerate(classes):
            for i in range(per_cell):
                _save(root / style / name / f"{i}.jpg", _pixels(rng, y + 7 * s))
    return root


def write_imagenet_r(root: Path, wnids: list[str], styles: list[str], per_cell: int = 2, seed: int = 0) -> Path:
    """root/<wnid>/<style>_<n>.jpg (ImageNet-R)."""
    rng = np.random.default_rng(seed)
    for y, w in enumerate(wnids):
        for s, style in enumerate(styles):
            for i in range(per_cell):
                _save(root / w / f"{style}_{i}.jpg", _pixels(rng, y + 5 * s))
    return root


def write_split_json(root: Path, split_file: str, image_dir: str, classes: list[str], per_split: int = 2,
                     seed: int = 0) -> Path:
    """CoOp's format: root/<split_file> = {"train"|"val"|"test": [[path under image_dir, label, class name]]}."""
    rng = np.random.default_rng(seed)
    splits = {"train": [], "val": [], "test": []}
    for y, name in enumerate(classes):
        folder = name.replace(" ", "_")
        for split, items in splits.items():
            for i in range(per_split):
                rel = f"{folder}/{split}_{i}.jpg"
                _save(root / image_dir / rel, _pixels(rng, y))
                items.append([rel, y, name])
    (root / split_file).write_text(json.dumps(splits))
    return root


def write_stanford_dogs_official(root: Path, breeds: list[str], train: int = 3, test: int = 2, seed: int = 0) -> Path:
    """The official layout: root/Images/<wnid>-<breed>/<wnid>_<i>.jpg and root/lists/{train,test}_list.mat
    (MATLAB cell arrays `file_list` of paths under Images/ and 1-based `labels` over all 120 breeds)."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    wnids = catalog.class_list("stanford_dogs_wnids")
    names = catalog.spaced(catalog.stanford_dogs_classnames())
    lists = {"train": ([], []), "test": ([], [])}
    for breed in breeds:
        label = names.index(breed)
        folder = f"{wnids[label]}-{breed.replace(' ', '_')}"
        for split, count in (("train", train), ("test", test)):
            for i in range(count):
                rel = f"{folder}/{wnids[label]}_{split}{i}.jpg"
                _save(root / "Images" / rel, _pixels(rng, label))
                lists[split][0].append(rel)
                lists[split][1].append(label + 1)
    (root / "lists").mkdir(parents=True, exist_ok=True)
    for split, (files, labels) in lists.items():
        cells = np.empty((len(files), 1), dtype=object)
        cells[:, 0] = files
        savemat(root / "lists" / f"{split}_list.mat", {"file_list": cells, "labels": np.asarray(labels)[:, None]})
    return root


def write_class_folder(root: Path, folders: list[str], per_class: int = 2, seed: int = 0, size: int = 32) -> Path:
    """root/<class folder>/<i>.png (ObjectNet's images folder)."""
    rng = np.random.default_rng(seed)
    for y, name in enumerate(folders):
        for i in range(per_class):
            _save(root / name / f"{i}.png", _pixels(rng, y, size))
    return root
