"""Sweeps through the path users run (`python -m unlearn -m ...` in a subprocess), for the
experiment scripts: one sweep per call, into a fixed folder (a second call resumes), several side by
side on a machine's cores."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]


def sweep(overrides: list[str], folder: Path) -> None:
    """`python -m unlearn -m <overrides> hydra.sweep.dir=<folder>`, offline; one line when it fails."""
    command = [sys.executable, "-m", "unlearn", "-m", *overrides, f"hydra.sweep.dir={folder}"]
    print(" ".join(command[3:]), flush=True)
    proc = subprocess.run(command, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"})
    if proc.returncode != 0:
        raise SystemExit(f"the sweep into {folder} failed (exit {proc.returncode}); its log: {folder}")


def side_by_side(work: Callable[[str], None], items: Iterable[str], parallel: int) -> None:
    """work(item) for every item, `parallel` at a time (threads, each waiting on its own sweep
    processes); the first failure ends the script once the others are done."""
    with ThreadPoolExecutor(max(1, parallel)) as pool:
        list(pool.map(work, items))
