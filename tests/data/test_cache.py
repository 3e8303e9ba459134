"""Decode once (unlearn/data/cache.py): cached sets give bit for bit the batches decoding gives,
decode once, and are shared by what may share them (same files and preprocessing) only."""

from __future__ import annotations

import logging
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from torchvision import transforms

from tests.conftest import fill
from unlearn.data import fakes as fake
from unlearn import cost
from unlearn.cache_entry import reset_refusals
from unlearn.config.schema import FileCheck
from unlearn.data.base import ImageSet
from unlearn.data.cache import check_files, in_memory, on_disk, source_key, split_transform, transform_key
from unlearn.data.images import FileImages, image_files
from unlearn.models.factory import create_random, eval_transform


@pytest.fixture(scope="module")
def transform():
    return eval_transform(create_random("MiniRN"))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[list[str], np.ndarray]:
    root = fake.write_class_folder(tmp_path_factory.mktemp("images"), ["a", "b", "c"], per_class=4, size=48)
    paths = [str(p) for name in ("a", "b", "c") for p in image_files(root / name)]
    return paths, np.repeat(np.arange(3), 4)


def file_set(files, transform) -> ImageSet:
    paths, labels = files
    return ImageSet(FileImages(paths, labels, transform), labels)


def batches(images: ImageSet, **kwargs) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(images.loader(5, **kwargs))


def assert_same_batches(a: ImageSet, b: ImageSet, **kwargs) -> None:
    for (xa, ya), (xb, yb) in zip(batches(a, **kwargs), batches(b, **kwargs), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def decoded_by(action) -> int:
    before = cost.METER.decoded
    action()
    return cost.METER.decoded - before


def test_in_memory_gives_the_same_batches_and_decodes_once(files, transform):
    images = file_set(files, transform).subset(np.array([7, 1, 3, 10, 2, 5]))
    kept = []
    assert decoded_by(lambda: kept.append(in_memory(images))) == 6
    assert decoded_by(lambda: assert_same_batches(images, kept[0], shuffle=True, seed=3)) == 6  # only `images` decodes
    assert not kept[0].decodes and kept[0].labels.tolist() == images.labels.tolist()
    assert source_key(kept[0].dataset) == source_key(images.dataset)


def test_on_disk_gives_the_same_batches_and_decodes_once_across_jobs(files, transform, tmp_path):
    images = file_set(files, transform)
    cached = []
    assert decoded_by(lambda: cached.append(on_disk(images, tmp_path))) == 12
    assert len(list(tmp_path.glob("*.pixels"))) == 1
    assert decoded_by(lambda: cached.append(on_disk(images, tmp_path))) == 0  # another job finds the file
    assert_same_batches(images, cached[1])
    subset = np.array([11, 0, 4])
    assert_same_batches(images.subset(subset), cached[1].subset(subset))
    assert not cached[1].decodes and transform_key(cached[1].dataset) == transform_key(images.dataset)


def test_backbones_with_the_same_preprocessing_share_the_file(files, transform, tmp_path):
    steps = transform.transforms
    other_norm = transforms.Compose([*steps[:-1], transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    smaller = transforms.Compose([transforms.Resize(16), transforms.CenterCrop(16), *steps[2:]])
    on_disk(file_set(files, transform), tmp_path)
    assert decoded_by(lambda: assert_same_batches(file_set(files, other_norm),
                                                  on_disk(file_set(files, other_norm), tmp_path))) == 12
    assert len(list(tmp_path.glob("*.pixels"))) == 1  # only the normalisation differs: one file
    on_disk(file_set(files, smaller), tmp_path)
    assert len(list(tmp_path.glob("*.pixels"))) == 2  # another input size: its own file


def test_keys_follow_files_labels_and_order(files, transform):
    paths, labels = files
    key = source_key(FileImages(paths, labels, transform))
    assert source_key(FileImages(paths, labels, transform)) == key
    assert source_key(FileImages(paths, labels[::-1].copy(), transform)) != key
    assert source_key(FileImages(paths[::-1], labels, transform)) != key
    images = file_set(files, transform)
    assert source_key(images.subset(np.array([0, 1])).dataset) != source_key(images.subset(np.array([1, 0])).dataset)


def test_a_transform_without_to_tensor_is_left_uncached(files, tmp_path):
    as_array = transforms.Lambda(lambda image: torch.as_tensor(np.array(image)))
    assert split_transform(as_array) is None
    images = file_set(files, transforms.Compose([as_array]))
    assert on_disk(images, tmp_path) is images and not list(tmp_path.iterdir())


def test_cached_sets_reach_loader_workers_by_any_start_method(files, transform, tmp_path):
    images = ImageSet(FileImages(*files, transform), files[1], num_workers=2)
    cached = on_disk(images, tmp_path)  # decoded in 2 workers
    assert_same_batches(images, cached)  # read and finished in 2 workers
    restored = pickle.loads(pickle.dumps(cached.dataset))  # what spawn / forkserver workers receive
    assert torch.equal(restored[3][0], cached.dataset[3][0])


def test_a_file_rewritten_in_place_gets_a_new_entry(files, transform, tmp_path):
    """Issue 27, 1: the same file names with other pixels are other data (the key stamps each file)."""
    paths, labels = [shutil.copy(p, tmp_path / f"{i}.png") for i, p in enumerate(files[0])], files[1]
    images = ImageSet(FileImages(paths, labels, transform), labels)
    key = source_key(images.dataset)
    on_disk(images, tmp_path / "cache")
    shutil.copy(files[0][5], paths[0])  # another image under the first one's name
    assert source_key(images.dataset) != key
    rewritten = []
    assert decoded_by(lambda: rewritten.append(on_disk(images, tmp_path / "cache"))) == 12  # not the stale entry
    assert len(list((tmp_path / "cache").glob("*.pixels"))) == 2
    assert_same_batches(images, rewritten[0])


def test_content_checks_see_a_rewrite_that_keeps_size_and_time(files, transform, tmp_path):
    path = tmp_path / "image.png"
    shutil.copy(files[0][0], path)
    images = FileImages([str(path)], np.zeros(1), transform)
    stamp = os.stat(path)
    keys = {}
    for how in FileCheck:
        check_files(how)
        keys[how] = source_key(images)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF  # same size
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # and the same time
    try:
        check_files(FileCheck.stat)
        assert source_key(images) == keys[FileCheck.stat]  # what stat stamps cannot see
        check_files(FileCheck.content)
        assert source_key(images) != keys[FileCheck.content]
    finally:
        check_files(FileCheck.stat)


@pytest.mark.parametrize("damage", ["zeroed", "truncated", "footer"])
def test_a_damaged_image_entry_is_named_discarded_and_decoded_again(files, transform, tmp_path, caplog, damage):
    """Issue 27, 2: an entry of the right size with zeroed pixels is never read as images."""
    images = file_set(files, transform)
    on_disk(images, tmp_path)
    (entry,) = tmp_path.glob("*.pixels")
    data = entry.read_bytes()
    pixels = 12 * 3 * 32 * 32
    entry.write_bytes({"zeroed": bytes(pixels) + data[pixels:], "truncated": data[:pixels // 2],
                       "footer": data[:-3] + b"abc"}[damage])
    reread = []
    with caplog.at_level(logging.WARNING):
        assert decoded_by(lambda: reread.append(on_disk(images, tmp_path))) == 12
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(entry) in warnings[0] and "discarded and rebuilt" in warnings[0]
    assert entry.read_bytes() == data  # rebuilt
    assert_same_batches(images, reread[0])


def test_a_full_cache_disk_leaves_the_set_uncached_and_no_temporary_file(files, transform, tmp_path, tmpfs, caplog):
    """Issue 27, 3 and 5: no memory-mapped write, so no SIGBUS; the job decodes as if uncached."""
    folder = tmpfs(tmp_path / "full", "64k")
    (folder / "images").mkdir()
    fill(folder)
    images = file_set(files, transform)
    reset_refusals()
    with caplog.at_level(logging.WARNING):
        result = on_disk(images, folder / "images")
    assert result is images
    assert [r.getMessage() for r in caplog.records if "cannot store in the cache folder" in r.getMessage()]
    assert [p.name for p in (folder / "images").iterdir() if not p.name.endswith(".lock")] == []
    reset_refusals()
