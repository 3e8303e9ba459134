"""Image folder listings kept on disk (`cache.file_index`): ImageNet's 1.28M training files are
listed once, not by every job (a directory listing of that size takes minutes on a network file
system; the index loads in about a second).

    with file_index(cache_dir(cfg.cache) / "index"):   # build_job, around build_benchmark
        files = listed(root / "train", wnids)          # the image files of root/train/<wnid>, per wnid

One index file per (parent folder, list of subfolders) holds each subfolder's image file names with
the subfolder's modification time: a subfolder whose time changed (a file added, removed or
renamed in it) is listed again, and the index rewritten. Outside `file_index`, every call lists.
The index carries a checksum of its listings; a damaged one is named, discarded and listed again,
and storage that refuses it leaves the job listing every time (unlearn/cache_entry.py). The listing
says which files exist, not what they hold: the image caches key each file by its own size and
modification time (unlearn/data/cache.py).
"""

from __future__ import annotations

import contextlib
import json
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

from unlearn import __version__
from unlearn.cache_entry import checksum, read_entry, store_entry, verify
from unlearn.data.images import image_files
from unlearn.io import digest

# bump when what a listing holds changes for the same folders (image_files, IMAGE_SUFFIXES, the
# layout below); tests/test_cache_versions.py holds the code to it
INDEX_VERSION = 1

_FOLDER: ContextVar[Path | None] = ContextVar("file_index", default=None)


@contextlib.contextmanager
def file_index(folder: Path | None) -> Iterator[None]:
    """Keep listings under `folder` while the body runs (None: list every time)."""
    token = _FOLDER.set(folder)
    try:
        yield
    finally:
        _FOLDER.reset(token)


def listed(parent: Path, names: list[str]) -> list[list[Path]]:
    """`image_files(parent / name)` for each name, from the index where it is current."""
    index_folder = _FOLDER.get()
    if index_folder is None:
        return [image_files(parent / name) for name in names]
    parent = parent.resolve()
    path = index_folder / f"{digest(__version__, INDEX_VERSION, str(parent), *names)}.json"
    stored = read_entry(path, _load, "file index") or {}
    entries, changed = {}, False
    for name in names:
        stamp = (parent / name).stat().st_mtime_ns
        entry = stored.get(name)
        if entry is None or entry["mtime_ns"] != stamp:
            entry, changed = {"mtime_ns": stamp, "files": [p.name for p in image_files(parent / name)]}, True
        entries[name] = entry
    if changed:
        text = json.dumps({"crc32": checksum(_canonical(entries)), "entries": entries})
        store_entry(path, lambda tmp: tmp.write_text(text))
    return [[parent / name / file for file in entries[name]["files"]] for name in names]


def _canonical(entries: dict) -> bytes:
    return json.dumps(entries, sort_keys=True).encode()


def _load(path: Path) -> dict:
    stored = json.loads(path.read_text())
    verify(_canonical(stored["entries"]), stored["crc32"], "listing")
    return stored["entries"]
