"""Pieces every real-data loader shares: image datasets over files or decoded arrays, seeded
held-out splits, and one-line errors for a missing root or a wrong layout."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets.folder import default_loader

from unlearn.cost import count_decoded
from unlearn.data.base import ImageSet
from unlearn.errors import UnlearnError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def default_transform() -> Callable:
    """CLIP's 224-pixel evaluation transform, for callers that build a dataset without a model."""
    from open_clip import image_transform

    return image_transform(224, is_train=False)


class BadImageError(UnlearnError):
    """An image file that cannot be decoded, named in one line."""

    def __init__(self, message: str):
        # a DataLoader worker's exception comes back re-raised with the worker's whole traceback as
        # its message: keep the one line this class wrote (the traceback's last line)
        last = message.strip().splitlines()[-1]
        super().__init__(last.split("BadImageError: ", 1)[-1])


class FileImages(Dataset):
    """(transform(image), label) for a list of image files; a file that cannot be decoded fails
    with one line naming it."""

    def __init__(self, paths: list[str], labels: np.ndarray, transform: Callable):
        self.paths, self.labels, self.transform = paths, labels, transform

    def __len__(self) -> int:
        return len(self.paths)

    def raw(self, index: int) -> Image.Image:
        """The decoded image, before the transform."""
        try:
            return default_loader(self.paths[index])
        except (OSError, ValueError) as err:  # PIL: truncated, not an image, unreadable
            raise BadImageError(f"cannot decode image {self.paths[index]!r} ({type(err).__name__}: {err})") from None

    def __getitem__(self, index: int):
        return self.transform(self.raw(index)), int(self.labels[index])


class _DecodeCheck(Dataset):
    """Whether each item of a dataset decodes: (index, ok), computed in loader workers."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, bool]:
        try:
            self.dataset[index]
        except BadImageError:
            return index, False
        return index, True


def decodable(images: ImageSet) -> np.ndarray:
    """Boolean mask of the images of a set that decode (one extra decoding pass, in the set's
    loader workers); for `dataset.skip_bad_images=true`."""
    from torch.utils.data import DataLoader

    ok = np.ones(len(images), dtype=bool)
    for index, good in DataLoader(_DecodeCheck(images.dataset), batch_size=64, num_workers=images.num_workers):
        ok[index.numpy()] = good.numpy()
        count_decoded(len(index))
    return ok


class ArrayImages(Dataset):
    """(transform(image), label) for uint8 images already in memory, (N, H, W, 3)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def raw(self, index: int) -> Image.Image:
        return Image.fromarray(self.images[index])

    def __getitem__(self, index: int):
        return self.transform(self.raw(index)), int(self.labels[index])


def holdout(strata: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask that picks `fraction` of every stratum (e.g. each class, or class × style
    cell) at random, deterministically in `seed`; strata of two or more items give at least one."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(strata), dtype=bool)
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        take = int(round(fraction * len(members)))
        if fraction > 0 and len(members) >= 2:
            take = min(max(take, 1), len(members) - 1)
        mask[rng.permutation(members)[:take]] = True
    return mask


def split_calib(images: ImageSet, fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """(train, calib): a per-class share of a training pool kept apart for calibration."""
    calib = holdout(images.labels, fraction, seed)
    return images.subset(np.flatnonzero(~calib)), images.subset(np.flatnonzero(calib))


def require_dir(path: Path, layout: str, what: str = "dataset root") -> Path:
    if not path.is_dir():
        raise UnlearnError(f"{what} {str(path)!r} does not exist; expected layout {layout}")
    return path


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def subfolders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def prompt_name(folder_name: str) -> str:
    """Folder and file spellings use underscores where prompts want spaces (CoOp, CLIP do the same)."""
    return folder_name.replace("_", " ")


def download_with_torchvision(cfg) -> None:
    """`dataset.download=true`: torchvision fetches, checks and unpacks the files under dataset.root."""
    from torchvision import datasets

    split_kw = {"cifar10": "train", "cifar100": "train", "stl10": "split", "food101": "split"}[cfg.format]
    cls = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100, "stl10": datasets.STL10,
           "food101": datasets.Food101}[cfg.format]
    splits = (True, False) if split_kw == "train" else ("train", "test")
    try:
        for split in splits:
            cls(cfg.root, download=True, **{split_kw: split})
    except Exception as err:  # network errors come in many types; all mean "could not fetch"
        raise UnlearnError(f"download of {cfg.format} into {cfg.root!r} failed ({type(err).__name__}: {err}); "
                           f"fetch it where there is network and copy it there") from None
