"""Image folder listings kept on disk (`cache.file_index`): ImageNet's 1.28M training files are
listed once, not by every job (a directory listing of that size takes minutes on a network file
system; the index loads in about a second).

    with file_index(cache_dir(cfg.cache) / "index"):   # build_job, around build_benchmark
        files = listed(root / "train", wnids)          # the image files of root/train/<wnid>, per wnid

One index file per (parent folder, list of subfolders) holds each subfolder's image file names with
the subfolder's modification time: a subfolder whose time changed (a file added, removed or
renamed in it) is listed again, and the index rewritten. Outside `file_index`, every call lists.
"""

from __future__ import annotations

import contextlib
import json
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

from unlearn.data.images import image_files
from unlearn.io import atomic_write, digest

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
    path = index_folder / f"{digest(str(parent), *names)}.json"
    stored = json.loads(path.read_text()) if path.is_file() else {}
    entries, changed = {}, False
    for name in names:
        stamp = (parent / name).stat().st_mtime_ns
        entry = stored.get(name)
        if entry is None or entry["mtime_ns"] != stamp:
            entry, changed = {"mtime_ns": stamp, "files": [p.name for p in image_files(parent / name)]}, True
        entries[name] = entry
    if changed:
        text = json.dumps(entries)
        atomic_write(path, lambda tmp: tmp.write_text(text))
    return [[parent / name / file for file in entries[name]["files"]] for name in names]
