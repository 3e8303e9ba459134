"""The run-folder contract: what a job writes, and what resume and the report may rely on.

| file                    | written                              | holds                                             |
|-------------------------|--------------------------------------|---------------------------------------------------|
| `.hydra/config.yaml`    | by Hydra, before the job starts      | the composed config (interpolations unresolved)   |
| `.hydra/overrides.yaml` | by Hydra                             | the command line's overrides                      |
| `status.json`           | at the start and at the end, atomically | `status` (running → complete / failed), `config_hash`, on failure `error` and `traceback` |
| `metrics.json`          | atomically, only once the job succeeded | `before`/`after` metric dicts (at least `REQUIRED_METRICS`), `score`, the row keys `ROW_FIELDS`, `config_hash`, ... |

A folder whose status is not `complete` or that lacks a valid metrics.json is not a finished
run. `config_hash` identifies what determines a result (`RESULT_KEYS`, without the fields that
only say how data is read): resume skips a job whose folder holds a complete metrics.json of the
same hash, and the report never averages runs of different hashes. Torch-free: the report reads
run folders without importing the models.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from unlearn.io import write_json

# the parts of the config that determine the result (not logging or bookkeeping)
RESULT_KEYS = ("dataset", "backbone", "method", "forget", "task", "eval", "seed")
# fields (at any depth) that say how data is read, not which data: runs that differ only there are one config
LOADING_FIELDS = frozenset({"num_workers", "cache_dir", "download"})
REQUIRED_METRICS = ("forget/acc", "retain/acc", "others/acc")  # in both `before` and `after`
ROW_FIELDS = ("method", "forget", "backbone", "dataset", "seed")  # what a report row is keyed by
# folders inside a sweep that never hold run folders (W&B files, submitit pickles, Hydra's own)
PRUNED_DIRS = frozenset({"wandb", ".submitit", ".hydra"})


def config_hash(cfg: DictConfig, exclude: tuple[str, ...] = ()) -> str:
    """12 hex digits over the result-determining config, interpolations unresolved (so the same
    for the live config and `.hydra/config.yaml`); `exclude` drops top-level keys (e.g. `seed`
    to group a setting's seeds)."""
    parts = {k: _without_loading(OmegaConf.to_container(cfg[k], resolve=False)) if OmegaConf.is_config(cfg[k])
             else cfg[k] for k in RESULT_KEYS if k not in exclude and k in cfg}
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _without_loading(node):
    if isinstance(node, dict):
        return {k: _without_loading(v) for k, v in node.items() if k not in LOADING_FIELDS}
    return node


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_status(run_dir: Path, status: str, digest: str, **details: str) -> None:
    write_json(run_dir / "status.json", {"status": status, "config_hash": digest, **details})


def write_metrics(run_dir: Path, metrics: dict) -> None:
    write_json(run_dir / "metrics.json", metrics)


def completed_metrics(run_dir: Path, digest: str) -> dict | None:
    """The metrics of an earlier complete run of the same config in this folder, if any."""
    metrics = read_json(run_dir / "metrics.json")
    return metrics if isinstance(metrics, dict) and metrics.get("config_hash") == digest else None


@dataclass
class RunFolder:
    """A finished run as the files hold it."""

    path: Path
    metrics: dict
    config: DictConfig | None  # .hydra/config.yaml, None when absent
    overrides: list[str]  # .hydra/overrides.yaml


def load_run(path: Path) -> RunFolder | str:
    """The finished run in `path`, or why it is not one."""
    status = read_json(path / "status.json")
    state = status.get("status") if isinstance(status, dict) else None
    if not (path / "metrics.json").is_file():
        if state == "failed":
            return f"failed ({status.get('error', 'no error recorded')})"
        return f"incomplete (status {state})" if state else "incomplete (no status.json or metrics.json)"
    if state not in (None, "complete"):
        return f"status {state} (metrics.json is from an earlier attempt)"
    metrics = read_json(path / "metrics.json")
    if not isinstance(metrics, dict):
        return "unreadable metrics.json"
    missing = [k for k in ("before", "after", "score", *ROW_FIELDS) if k not in metrics]
    missing += [f"{phase}/{k}" for phase in ("before", "after") for k in REQUIRED_METRICS
                if k not in metrics.get(phase, {})]
    if missing:
        return f"incomplete metrics.json (missing {', '.join(missing)})"
    hydra_dir = path / ".hydra"
    config = OmegaConf.load(hydra_dir / "config.yaml") if (hydra_dir / "config.yaml").is_file() else None
    overrides = list(OmegaConf.load(hydra_dir / "overrides.yaml")) if (hydra_dir / "overrides.yaml").is_file() else []
    return RunFolder(path, metrics, config, overrides)


def find_run_dirs(roots: list[Path]) -> list[Path]:
    """Every folder under roots that looks like a run folder (results, status or Hydra config)."""
    found = []
    for root in roots:
        for folder, subdirs, files in os.walk(root):
            if {"metrics.json", "status.json"} & set(files) or ".hydra" in subdirs:
                found.append(Path(folder))
            subdirs[:] = sorted(d for d in subdirs if d not in PRUNED_DIRS)
    return found
