"""One entry of an on-disk cache: it may make a job faster, never different, and never fail it.

    with entry_lock(path):                          # concurrent jobs: the first builds, the others read
        value = read_entry(path, load, "features")  # None when absent, or damaged (then deleted)
        if value is None:
            value = compute()
            store_entry(path, lambda tmp: save(value, tmp))

| the entry, or its storage                         | what happens                                                |
|---------------------------------------------------|-------------------------------------------------------------|
| present, and its checksum holds                   | read                                                        |
| damaged: the checksum fails, truncated, unparseable | one warning line naming the file; deleted; built and stored again |
| absent                                            | built, written beside its place and renamed into it (never half a file) |
| storage read-only, missing or full                | one warning line per job; built and used, not stored (nothing more is tried in that job); no temporary file left |

A loader verifies the checksum its writer stored (`checksum`) and raises `Damaged` when it does
not hold; any other error while loading (a truncated pickle, bad JSON) counts as damage too.
What an entry depends on, the code that computed it included, is in its name (each cache's key).
Seconds spent verifying are counted (`cost.count_checked`): what integrity costs a job.
"""

from __future__ import annotations

import contextlib
import logging
import time
import zlib
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from unlearn.cost import count_checked
from unlearn.io import atomic_write, lock_beside

log = logging.getLogger(__name__)
T = TypeVar("T")

_storage_refused = False  # storage failed in this job: warned once, nothing stored after


class Damaged(Exception):
    """A cache entry whose checksum does not hold."""


def checksum(data) -> int:
    """CRC-32 of a bytes-like payload (about 2 GB/s: cheap next to decoding or encoding it)."""
    start = time.perf_counter()
    value = zlib.crc32(data)
    count_checked(time.perf_counter() - start)
    return value


def verify(data, expected: int, what: str) -> None:
    if checksum(data) != expected:
        raise Damaged(f"{what}: checksum mismatch")


def reset_refusals() -> None:
    """A new job warns again about storage that refused an earlier one (it may have space now)."""
    global _storage_refused
    _storage_refused = False


@contextlib.contextmanager
def entry_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `<path>.lock` (flock: released when the process dies); without
    one when the folder cannot be written (a read-only cache is still read; storing then warns)."""
    try:
        handle = lock_beside(path)
    except OSError:
        yield
        return
    with handle:
        yield


def read_entry(path: Path, load: Callable[[Path], T], what: str) -> T | None:
    """load(path), or None when there is no entry; a damaged entry is named, deleted, and None."""
    try:
        return load(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except Exception as err:  # noqa: BLE001 - whatever a damaged file makes a parser raise
        log.warning("%s cache entry %s is damaged (%s: %s); discarded and rebuilt", what, path, type(err).__name__,
                    str(err).splitlines()[0] if str(err) else "unreadable")
        with contextlib.suppress(OSError):
            path.unlink()
        return None


def store_entry(path: Path, write: Callable[[Path], None]) -> bool:
    """Write the entry atomically; False (after one warning per job) when storage refuses."""
    if _storage_refused:
        return False
    try:
        atomic_write(path, write)
    except OSError as err:
        refused(path.parent, err)
        return False
    return True


def refused(folder: Path, err: OSError) -> None:
    global _storage_refused
    if not _storage_refused:
        _storage_refused = True
        log.warning("cannot store in the cache folder %s (%s); the job goes on without storing in the cache",
                    folder, err.strerror or err)
