"""Sweeps through the path users run (`python -m unlearn -m ...` in a subprocess), for the
experiment scripts: one sweep per call, into a fixed folder (a second call resumes), several side by
side on a machine's cores."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from unlearn.errors import UnlearnError
from unlearn.report import Run, collect

ROOT = Path(__file__).resolve().parents[1]
Item = TypeVar("Item")


def sweep(overrides: list[str], folder: Path) -> None:
    """`python -m unlearn -m <overrides> hydra.sweep.dir=<folder>`, offline; one line when it fails."""
    command = [sys.executable, "-m", "unlearn", "-m", *overrides, f"hydra.sweep.dir={folder}"]
    print(" ".join(command[3:]), flush=True)
    proc = subprocess.run(command, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"})
    if proc.returncode != 0:
        raise SystemExit(f"the sweep into {folder} failed (exit {proc.returncode}); its log: {folder}")


def newest_per(runs: list[Run], key: Callable[[Run], tuple]) -> tuple[list[Run], list[Run]]:
    """(kept, replaced): one run per key(run), the newest by its metrics.json. A fixed sweep folder
    keeps the runs of a model's earlier configs (an earlier version of a method) beside the current one."""
    newest: dict[tuple, Run] = {}
    for run in sorted(runs, key=lambda r: (r.path / "metrics.json").stat().st_mtime_ns):
        newest[key(run)] = run
    kept = set(map(id, newest.values()))
    return list(newest.values()), [run for run in runs if id(run) not in kept]


def finished_runs(folders: list[Path], key: Callable[[Run], tuple]) -> list[Run]:
    """The complete runs under `folders`, the newest per key(run) (`newest_per`); what is left out is
    printed, each with its reason. A folder that is missing (`--no-sweep` before any sweep) ends the
    script with one line."""
    try:
        runs, skipped = collect(folders)
    except UnlearnError as error:
        raise SystemExit(str(error)) from None
    runs, replaced = newest_per(runs, key)
    for path, why in [*skipped, *((run.path, "an older config of the same model (a newer run replaces it)")
                                   for run in replaced)]:
        print(f"skipped {path}: {why}", file=sys.stderr)
    return runs


def side_by_side(work: Callable[[Item], None], items: Iterable[Item], parallel: int) -> None:
    """work(item) for every item, `parallel` at a time (threads, each waiting on its own sweep
    processes); the first failure ends the script once the others are done."""
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(work, items))


def add_sweep_options(parser: argparse.ArgumentParser, out: Path, runs: Path) -> None:
    """The options every experiment script shares: where its outputs and sweeps go, and how it sweeps."""
    parser.add_argument("--out", type=Path, default=out, help="where the tables and plots go")
    parser.add_argument("--runs", type=Path, default=runs, help="where the sweeps go")
    parser.add_argument("--no-sweep", action="store_true", help="only read the sweeps already in --runs")
    parser.add_argument("--extra", nargs="*", default=[], help="further overrides for every job")
    parser.add_argument("--parallel", type=_at_least_one, default=2, help="sweeps side by side (one process each)")


def _at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least 1")
    return int(text)
