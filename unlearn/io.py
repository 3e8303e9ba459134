"""Atomic file writes (a reader never sees a half-written result), cache entry names, and the plain
name-list format."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp) on a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def digest(*parts: bytes | str) -> str:
    """32 hex digits of SHA-256 over `parts` (text or bytes, each ended by a NUL byte): the name of a
    cache entry, from everything its content depends on."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part if isinstance(part, bytes) else str(part).encode())
        hasher.update(b"\0")
    return hasher.hexdigest()[:32]


def lock_beside(path: Path) -> IO:
    """An open handle holding an exclusive lock on `<path>.lock`, once any other holder lets go
    (flock: released when the handle closes, or its process dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path.with_name(f"{path.name}.lock"), "a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def write_once(path: str | Path, write: Callable[[Path], None]) -> Path:
    """`atomic_write` unless `path` exists, under `lock_beside(path)`: of concurrent jobs that need
    the same file (a shared cache), one writes it, the others wait and then read it."""
    path = Path(path)
    if path.is_file():
        return path
    with lock_beside(path):
        if not path.is_file():
            atomic_write(path, write)
    return path


def write_json(path: str | Path, data: Any, allow_nan: bool = True) -> Path:
    """`allow_nan=False`: strict JSON, a NaN or infinity fails here instead of in every reader."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=allow_nan) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_name_list(path: Path) -> list[str]:
    """A text file with one name a line; blank lines and lines starting with # are skipped."""
    lines = (line.strip() for line in Path(path).read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]
