"""Decode once: the data caches of a job (`cache.*`, unlearn.config.schema.CacheConfig).

    task = cached_task(task, cfg.cache)   # after build_task, before any loader runs

- `cache.train_sets`: the forget, retain and calibration training sets (a few hundred images) are
  decoded once and kept in memory as the tensors their transform produced. Fisher's single-image
  passes, every epoch of every stage and each of the soup search's 21 points read them there.
- `cache.images`: the test set and every zero-shot suite are decoded once, as uint8 at the model's
  input size (the transform up to ToTensor), into an entry under `cache.dir/images/` that each
  reading process maps read-only; ToTensor's scaling and the rest of the transform (Normalize) run
  on reading. About 150 KB per 224 px image (ImageNet's val and the four unseen suites of the
  marmoset setting: ~21 GB).

Both are exact: a batch holds bit for bit the tensors decoding it again would give (the same
transform, ToTensor's own uint8 → float division), so no metric moves. Sets that decode nothing
(the synthetic world's tensors) pass through unchanged.

An image entry is named by everything its pixels depend on: `source_key` (each file's path, label
and order, and its size and modification time in nanoseconds, or with `cache.verify=content` a
digest of its bytes), the steps before ToTensor, the decoding libraries' versions, the package's
version and `IMAGES_VERSION`. So every job and every backbone with the same preprocessing shares
it, and a file rewritten in place gets a new entry. Each 64-image chunk carries a CRC-32 that is
verified whenever a job opens the entry; one that fails is named, discarded and decoded again
(unlearn/cache_entry.py). With `transform_key`, `source_key` is also what the feature store
(unlearn/feature_store.py) keys features by.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Callable

import numpy as np
import PIL
import torch
import torchvision
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset
from torchvision.transforms import Compose, ToTensor

from unlearn import __version__
from unlearn.cache_entry import Damaged, checksum, entry_lock, read_entry, store_entry, verify
from unlearn.config.schema import FileCheck
from unlearn.cost import count_checked, count_decoded
from unlearn.data.base import ImageSet
from unlearn.data.images import ArrayImages, FileImages
from unlearn.data.tasks import UnlearningTask
from unlearn.errors import UnlearnError
from unlearn.io import digest
from unlearn.runtime import user_cache_dir

log = logging.getLogger(__name__)

TRAIN_SETS = ("forget_train", "retain_train", "calib_forget", "calib_retain")
DECODE_BATCH = 64  # images per decoding batch, and per checksummed chunk of an image entry
# bump when the pixels an image entry holds change for the same key (how images are read and
# decoded to uint8: FileImages.raw, _DecodeUint8, split_transform; the entry's layout);
# tests/test_cache_versions.py holds the code to it. The libraries that decode are in the key too.
IMAGES_VERSION = 1
_DECODERS = (f"Pillow {PIL.__version__}", f"torchvision {torchvision.__version__}")


def cache_dir(cfg) -> Path:
    """`cache.dir`, else $UNLEARN_DATA_CACHE_DIR (the tests point it at a folder of their own),
    else $UNLEARN_CACHE_DIR/data (~/.cache/unlearn/data)."""
    if cfg.dir:
        return Path(cfg.dir).expanduser()
    return Path(os.environ.get("UNLEARN_DATA_CACHE_DIR") or user_cache_dir() / "data")


def cached_task(task: UnlearningTask, cfg) -> UnlearningTask:
    """The task with its sets cached as `cfg` (the `cache` config node) says."""
    replaced = {}
    if cfg.train_sets:
        replaced |= {name: in_memory(getattr(task, name)) for name in TRAIN_SETS}
    if cfg.images:
        folder = cache_dir(cfg) / "images"
        replaced["test"] = on_disk(task.test, folder)
        replaced["zeroshot"] = {name: dataclasses.replace(suite, images=on_disk(suite.images, folder))
                                for name, suite in task.zeroshot.items()}
    return dataclasses.replace(task, **replaced)


def in_memory(images: ImageSet) -> ImageSet:
    """The set decoded once into a TensorDataset of its transformed images (same order, labels)."""
    if not images.decodes or not len(images):
        return images
    tensors = TensorDataset(*images.tensors(DECODE_BATCH))
    return ImageSet(_Keyed(tensors, source_key(images.dataset), transform_key(images.dataset)), images.labels,
                    images.attributes, num_workers=0)


def on_disk(images: ImageSet, folder: Path) -> ImageSet:
    """The set read from its uint8 cache entry (written on first use, verified on every use); unchanged
    when its transform has no ToTensor step to split at, the set decodes nothing, or the cache
    cannot store the entry (then it decodes on every pass)."""
    if not images.decodes or not len(images):
        return images
    leaf, key = _leaf(images.dataset), source_key(images.dataset)
    split = split_transform(getattr(leaf, "transform", None)) if hasattr(leaf, "raw") else None
    if split is None or key is None:
        log.info("cache.images: no uint8 stage to cache in %s; it is decoded on every pass", type(leaf).__name__)
        return images
    decode, finish, decode_key = split
    path = folder / f"{digest(__version__, IMAGES_VERSION, *_DECODERS, key, decode_key)}.pixels"
    with entry_lock(path):  # of jobs started together, one decodes and the others wait for its entry
        shape = read_entry(path, verified_shape, "image")
        if shape is None:
            written = []
            if not store_entry(path, lambda tmp: written.append(_write_pixels(images, decode, tmp))):
                return images
            shape = written[0]
    # the set's loader workers read and finish the uint8 images (no decoding left: a few % of the work)
    return ImageSet(_Uint8Images(path, shape, images.labels, finish, key, transform_key(images.dataset)),
                    images.labels, images.attributes, num_workers=images.num_workers)


def split_transform(transform: Callable | None) -> tuple[Callable, Callable, str] | None:
    """(decode, finish, key of decode) around a Compose's ToTensor: decode(image) is the uint8
    (3, H, W) tensor the steps before it give, finish(uint8) is ToTensor's scaling and then the
    steps after it. None when the transform has no ToTensor step."""
    steps = getattr(transform, "transforms", None) or []
    at = next((i for i, step in enumerate(steps) if isinstance(step, ToTensor)), None)
    if at is None:
        return None
    before = Compose(steps[:at])
    return _DecodeUint8(before), _Finish(Compose(steps[at + 1:])), _plain_repr(before)


class _DecodeUint8:
    """image -> the uint8 (3, H, W) tensor of the transform's steps before ToTensor (a class, not a
    closure: loader workers started by spawn or forkserver receive it pickled)."""

    def __init__(self, before: Compose):
        self.before = before

    def __call__(self, image) -> torch.Tensor:
        image = self.before(image)
        if getattr(image, "mode", None) != "RGB":
            raise UnlearnError(f"cache.images stores RGB images, but the transform gives {getattr(image, 'mode', image)!r} "
                               "before ToTensor; set cache.images=false")
        return torch.from_numpy(np.array(image, np.uint8, copy=True)).permute(2, 0, 1)


class _Finish:
    """uint8 (3, H, W) -> ToTensor's scaling (its own uint8 -> float division), then the steps after it."""

    def __init__(self, after: Compose):
        self.after = after

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.after(pixels.contiguous().to(torch.get_default_dtype()).div(255))


def _write_pixels(images: ImageSet, decode: Callable, tmp: Path) -> tuple[int, ...]:
    """Decode every image once (in the set's loader workers) into an entry at `tmp`: the uint8
    pixels, row after row, then a JSON footer (shape, rows per chunk, each chunk's CRC-32) and its
    length in 8 bytes. Written with plain writes, never through a memory map: a full disk is an
    OSError here, not a SIGBUS. Returns the array's shape."""
    loader = DataLoader(_Decoded(images.dataset, decode), batch_size=DECODE_BATCH, num_workers=images.num_workers)
    crcs, item_shape = [], None
    with open(tmp, "wb") as out:
        for pixels in loader:
            rows = np.ascontiguousarray(pixels.numpy())
            item_shape = item_shape or rows.shape[1:]  # the transform crops every image alike
            crcs.append(checksum(rows.data))
            out.write(rows.data)
            count_decoded(len(rows))
        shape = (len(images), *item_shape)
        footer = json.dumps({"shape": shape, "chunk_rows": DECODE_BATCH, "crc32": crcs}).encode()
        out.write(footer + len(footer).to_bytes(8, "little"))
    return shape


def verified_shape(path: Path) -> tuple[int, ...]:
    """The shape of the pixels in an image entry, once every chunk's checksum holds (read chunk by
    chunk: about 2 GB/s, a few ms per 64 images of 224 px); `Damaged` when one does not, or the
    file is shorter or longer than its footer says."""
    size = path.stat().st_size
    with open(path, "rb") as entry:
        entry.seek(max(size - 8, 0))
        length = int.from_bytes(entry.read(8), "little")
        if size < 8 or length > size - 8:
            raise Damaged(f"{size} bytes, no footer")
        entry.seek(size - 8 - length)
        footer = json.loads(entry.read(length))
    shape, rows, crcs = tuple(footer["shape"]), footer["chunk_rows"], footer["crc32"]
    if int(np.prod(shape)) + length + 8 != size:
        raise Damaged(f"{size} bytes, the footer says {int(np.prod(shape)) + length + 8}")
    if len(crcs) != -(-shape[0] // rows):
        raise Damaged(f"{len(crcs)} checksums for {shape[0]} images in chunks of {rows}")
    pixels = np.memmap(path, np.uint8, "r", shape=shape)
    for chunk, crc in enumerate(crcs):
        verify(pixels[chunk * rows:(chunk + 1) * rows].data, crc, f"images {chunk * rows}-{(chunk + 1) * rows - 1}")
    return shape


class _Decoded(Dataset):
    def __init__(self, dataset: Dataset, decode: Callable):
        self.dataset, self.decode = dataset, decode
        self.leaf, self.indices = _leaf(dataset), _indices(dataset)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.decode(self.leaf.raw(self.indices[index]))


class _Uint8Images(Dataset):
    """(finish(uint8 image), label) from a cache entry, mapped read-only in each process that reads."""

    decodes = False

    def __init__(self, path: Path, shape: tuple[int, ...], labels: np.ndarray, finish: Callable, source: str,
                 transform: str):
        self.path, self.shape, self.labels, self.finish = path, shape, labels, finish
        self.source_key, self.transform_key = source, transform
        self._array = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        if self._array is None:
            self._array = np.memmap(self.path, np.uint8, "r", shape=self.shape)
        return self.finish(torch.from_numpy(np.array(self._array[index]))), int(self.labels[index])

    def __getstate__(self):  # loader workers open their own map
        return {**self.__dict__, "_array": None}


class _Keyed(Dataset):
    """A TensorDataset that keeps the keys of the set it was decoded from."""

    decodes = False

    def __init__(self, tensors: TensorDataset, source: str | None, transform: str | None):
        self.tensors, self.source_key, self.transform_key = tensors, source, transform

    def __len__(self) -> int:
        return len(self.tensors)

    def __getitem__(self, index: int):
        return self.tensors[index]


def _leaf(dataset: Dataset) -> Dataset:
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return dataset


def _indices(dataset: Dataset) -> list[int]:
    """The leaf dataset's index of each item of `dataset` (through nested Subsets)."""
    if isinstance(dataset, Subset):
        inner = _indices(dataset.dataset)
        return [inner[i] for i in dataset.indices]
    return list(range(len(dataset)))


def source_key(dataset: Dataset) -> str | None:
    """A digest of what a dataset's items are made from (files or pixels, and labels, in order);
    None for a kind of dataset it does not know."""
    leaf = _leaf(dataset)
    if isinstance(leaf, FileImages):  # only the files the set reads: a subset of ImageNet's train stats a few hundred
        indices = _indices(dataset)
        paths = [leaf.paths[i] for i in indices]
        labels = np.asarray(leaf.labels, np.int64)[indices]
        return digest("files", "\n".join(map(str, paths)), labels.tobytes(), *file_stamps(paths))
    if hasattr(leaf, "source_key"):
        base = leaf.source_key
    elif isinstance(leaf, ArrayImages):
        base = digest("arrays", np.ascontiguousarray(leaf.images).tobytes(), np.asarray(leaf.labels, np.int64).tobytes())
    elif isinstance(leaf, TensorDataset):
        base = digest("tensors", *(t.contiguous().numpy().tobytes() for t in leaf.tensors))
    else:
        return None
    if base is None or leaf is dataset:
        return base
    return digest(base, np.asarray(_indices(dataset), np.int64).tobytes())


_FILE_CHECK = [FileCheck.stat]  # how source keys stamp a file (cache.verify; set per job by check_files)


def check_files(how: FileCheck) -> None:
    """`cache.verify` for this process's next source keys: `stat` stamps each file with its size and
    modification time in nanoseconds (a file rewritten in place gets a new key); `content` with a
    digest of its bytes (also a rewrite that restores the time; reads every file once per key)."""
    _FILE_CHECK[0] = FileCheck(how)


def file_stamps(paths: list[str]) -> list[str]:
    """What each file holds, as `check_files` says ("missing" for a file that is gone: decoding it
    fails with a line naming it)."""
    start = time.perf_counter()
    stamps = [_stamp(path, _FILE_CHECK[0]) for path in paths]
    count_checked(time.perf_counter() - start)
    return stamps


def _stamp(path: str, how: FileCheck) -> str:
    try:
        if how == FileCheck.content:
            hasher = hashlib.sha256()
            with open(path, "rb") as f:
                while block := f.read(1 << 20):
                    hasher.update(block)
            return hasher.hexdigest()
        stat = os.stat(path)
    except OSError:
        return "missing"
    return f"{stat.st_size} {stat.st_mtime_ns}"


def transform_key(dataset: Dataset) -> str:
    """The preprocessing a dataset's items go through, as text ('' for stored tensors)."""
    leaf = _leaf(dataset)
    if hasattr(leaf, "transform_key"):
        return leaf.transform_key
    transform = getattr(leaf, "transform", None)
    return "" if transform is None else _plain_repr(transform)


def _plain_repr(obj) -> str:
    """repr without memory addresses (a function's repr holds one)."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(obj))
