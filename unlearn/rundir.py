"""The run-folder contract: what a job writes, and what resume and the report may rely on.

| file                    | written                              | holds                                             |
|-------------------------|--------------------------------------|---------------------------------------------------|
| `.hydra/config.yaml`    | by Hydra, before the job starts      | the composed config (interpolations unresolved)   |
| `.hydra/overrides.yaml` | by Hydra                             | the command line's overrides                      |
| `status.json`           | at the start and at the end, atomically | `status` (`STATUSES`), `config_hash`, `owner` (host, pid and start time of the process that wrote it), `launch` (the sweep launch that wrote it), `skipped` (resume found it complete), on failure `error` and `traceback`, on interruption `signal`; `history`: every status the folder had, oldest first (`status`, `at`, `launch`, `skipped`, `signal`), e.g. running, interrupted, running, complete for a requeued job |
| `.launches/<id>.json`   | with status.json, by a job of sweep launch `<id>` | what that launch did with the job: status.json's fields, or `elsewhere` (another process held the job) with that process as `owner` |
| `.lock`                 | held (flock) while a process works in the folder | that process (host, pid, start time): a second process finds it held and leaves the job to the first |
| `metrics.json`          | atomically, only once the job succeeded | the job's `RunResult` (unlearn/results.py: every field and key), `cost` per phase with `JOB_PHASES` at the top (strict JSON: an undefined value is null) |
| `artifacts/`            | by the method, while it runs (`UnlearnContext.artifact`) | the method's own files (plots, curves: `curves/<name>.json`, unlearn/curves.py) |
| `requests/<i>/`         | by a job with deletion requests in sequence, after request i (unlearn/requests.py) | `result.json` (request i's RunResult, with the config hash), and for the last saved request `model.pt`: what resume continues from; kept across attempts of the same config, moved to `superseded/` otherwise |
| `superseded/<time>_<hash>/` | when a job starts where results of an earlier attempt lie | those results (`RESULT_FILES` and the old status.json), moved aside, never overwritten |

A folder whose status is not `complete` or that lacks a valid metrics.json is not a finished
run. A `running` status whose owner is gone (its pid no longer names the process that started at
that time, on this host) reads `interrupted` to resume, the sweep summary and the report
(`state_of`): a SIGKILL, or a disk that filled before the job could write its end.
`config_hash` identifies what determines a result (`RESULT_KEYS`, and `REQUEST_KEYS` in a job
with deletion requests, without the fields that only say how data is read): resume skips a job whose folder holds a complete metrics.json of the
same hash, and the report never averages runs of different hashes. A sweep's job folder is named
by its overrides and its hash (`job_dirname`), never by its position in the grid, so re-running,
extending or reordering a grid finds every config's folder again. Torch-free: the report reads
run folders without importing the models.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from omegaconf import DictConfig, OmegaConf

from unlearn.io import write_json
from unlearn.results import NotAResult, RunResult

# the parts of the config that determine the result (not logging or bookkeeping)
RESULT_KEYS = ("dataset", "backbone", "method", "forget", "task", "eval", "audit", "seed")
# ... and, in a job with deletion requests (unlearn/requests.py) only, those and how they are honoured:
# a job without requests keeps the hash it always had
REQUEST_KEYS = ("requests", "mode")
# fields (at any depth) that say how data is read, not which data: runs that differ only there are one config
LOADING_FIELDS = frozenset({"num_workers", "cache_dir", "download"})
# folders inside a sweep that never hold run folders (W&B files, submitit pickles, Hydra's own, set-aside results)
PRUNED_DIRS = frozenset({"wandb", ".submitit", ".hydra", "superseded", ".launches"})
STATUSES = ("running", "complete", "failed", "interrupted")
# the cost phases a job records at its top level in metrics.json's `cost`, in the order it runs them
# (unlearn/run.py, unlearn/cost.py; `check_images` and the audits only when asked for): every other
# phase lies inside one of them, so their sum is the job
JOB_PHASES = ("load_data", "check_images", "cache_data", "before_eval", "audit_original", "unlearn", "after_eval",
              "audit_unlearned", "audit_reference")
# what a job leaves besides its status and log: set aside before another attempt starts in the folder
ARTIFACTS_DIR = "artifacts"  # a method's own files, moved as a whole
RESULT_FILES = ("metrics.json", "model.pt", ARTIFACTS_DIR, "wandb")
LAUNCH_ENV = "UNLEARN_LAUNCH_ID"  # set by the sweep summary callback for the jobs of one launch
HISTORY_DETAILS = ("skipped", "signal")  # what status.json's `history` keeps of each status besides its time
HISTORY_LENGTH = 100  # the newest statuses kept (a folder resumed by many launches adds one each)


def config_hash(cfg: DictConfig, exclude: tuple[str, ...] = ()) -> str:
    """12 hex digits over the result-determining config, interpolations unresolved (so the same
    for the live config and `.hydra/config.yaml`); `exclude` drops top-level keys (e.g. `seed`
    to group a setting's seeds), dotted ones a nested key (e.g. `eval.metrics`)."""
    keys = RESULT_KEYS + (REQUEST_KEYS if cfg.get("requests") else ())
    parts = {k: _without_loading(OmegaConf.to_container(cfg[k], resolve=False)) if OmegaConf.is_config(cfg[k])
             else cfg[k] for k in keys if k not in exclude and k in cfg}
    for dotted in (e for e in exclude if "." in e):  # a nested key, e.g. eval.metrics
        *path, last = dotted.split(".")
        node = parts
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _without_loading(node):
    if isinstance(node, dict):
        return {k: _without_loading(v) for k, v in node.items() if k not in LOADING_FIELDS}
    return node


READABLE_NAME = 200  # a job folder's readable part, at most (file names end at 255 bytes)


def job_dirname(cfg: DictConfig) -> str:
    """A sweep job's folder name: its overrides made file-name safe (to read), then its config hash
    (to be unique): `debug=default,method.lr=0.001,seed=1__3fa9c2e1`. Past READABLE_NAME
    characters the keys lose their dotted prefixes (`lr=0.001`) and only then is the end cut:
    values stay readable as long as they can. A folder an earlier version named (its readable part
    cut at 80 characters) is found again, so resume still skips that job."""
    overrides = [re.sub(r"[^A-Za-z0-9=,._+-]+", "_", o) for o in cfg.hydra.job.override_dirname.split(",") if o]
    readable = ",".join(overrides)
    digest = config_hash(cfg)[:8]
    legacy = _named(readable[:80].strip("_,"), digest)
    if len(readable) > READABLE_NAME:
        readable = ",".join(_short_key(o) for o in overrides)
    name = _named(readable[:READABLE_NAME].strip("_,"), digest)
    if name != legacy and (Path(cfg.hydra.sweep.dir) / legacy).is_dir():
        return legacy
    return name


def _named(readable: str, digest: str) -> str:
    return f"{readable}__{digest}" if readable else digest


def _short_key(override: str) -> str:
    key, sep, value = override.partition("=")
    return f"{key.rsplit('.', 1)[-1]}={value}" if sep else override  # no "=": the rest of a list value


def numeric_leaves(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Every number in a metrics dict, keyed by its path: {"after/forget/acc": 0.0, "stages/stage1/...": ...}."""
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat |= numeric_leaves(value, f"{prefix}{key}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[f"{prefix}{key}"] = value
    return flat


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_status(run_dir: Path, status: str, digest: str, **details) -> None:
    """status.json, owned by this process, with the folder's status history, and the launch's record
    of the job when a sweep runs it."""
    assert status in STATUSES, status
    launch = {"launch": os.environ[LAUNCH_ENV]} if LAUNCH_ENV in os.environ else {}
    earlier = read_json(run_dir / "status.json")
    history = earlier.get("history", []) if isinstance(earlier, dict) else []
    step = {"status": status, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **launch,
            **{key: details[key] for key in HISTORY_DETAILS if key in details}}
    payload = {"status": status, "config_hash": digest, "owner": this_process(), **launch, **details}
    write_json(run_dir / "status.json", payload | {"history": [*history, step][-HISTORY_LENGTH:]})
    record_launch(run_dir, payload)


def record_launch(run_dir: Path, payload: dict) -> None:
    """`.launches/<id>.json`: what the current sweep launch did with the job (nothing outside one)."""
    if LAUNCH_ENV in os.environ:
        write_json(run_dir / ".launches" / f"{os.environ[LAUNCH_ENV]}.json", payload)


def launch_record(run_dir: Path, launch: str) -> dict | None:
    record = read_json(run_dir / ".launches" / f"{launch}.json")
    return record if isinstance(record, dict) else None


def this_process() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": process_start(os.getpid())}


def process_start(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch, 0.01 s resolution), from Linux's /proc;
    None when there is no such process or no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, IndexError, StopIteration):
        return None
    return round(boot + int(fields[19]) / os.sysconf("SC_CLK_TCK"), 2)  # field 22 of stat: start time in ticks


def owner_alive(owner: Any) -> bool | None:
    """Whether the process a status names still runs: None when that cannot be told (another
    host, an older status without an owner)."""
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname() or "pid" not in owner:
        return None
    if not Path("/proc").is_dir():  # no start times to compare: only whether the pid exists
        try:
            os.kill(owner["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # it exists, as another user's
            pass
        return True
    started = process_start(owner["pid"])
    return started is not None and (owner.get("started") is None or abs(started - owner["started"]) < 1)


def state_of(status: Any) -> str | None:
    """The state a status (or launch record) means now: `running` reads `interrupted` once its
    owner is gone."""
    if not isinstance(status, dict):
        return None
    state = status.get("status")
    return "interrupted" if state == "running" and owner_alive(status.get("owner")) is False else state


def describe_owner(owner: Any) -> str:
    if not isinstance(owner, dict):
        return "an unknown process"
    return f"pid {owner.get('pid')} on {owner.get('host')}"


def claim(run_dir: Path) -> IO | None:
    """An open handle that holds `<run_dir>/.lock` (flock: released when it is closed or the
    process ends, however it ends) with this process written in it, or None when another process
    holds it (`lock_owner` names that one)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = os.fdopen(os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644), "r+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(json.dumps(this_process()))
    handle.flush()
    return handle


def lock_owner(run_dir: Path) -> Any:
    """The process that holds (or last held) `<run_dir>/.lock`."""
    return read_json(run_dir / ".lock")


def write_metrics(run_dir: Path, metrics: dict) -> None:
    """Strict JSON: a value that is not a finite number becomes null, listed under `undefined`
    with the reason: an `Undefined`'s own (unlearn/results.py), else a ratio to zero (degenerate
    specs are rejected before any work, so that is a last guard)."""
    undefined: dict[str, str] = {}

    def strict(node, path: str):
        if isinstance(node, dict):
            return {k: strict(v, f"{path}/{k}" if path else k) for k, v in node.items()}
        if isinstance(node, float) and not math.isfinite(node):
            undefined[path] = getattr(node, "reason", f"{node} (an accuracy over no images, or a ratio to zero)")
            return None
        return node

    clean = strict(metrics, "")
    if undefined:
        clean["undefined"] = undefined
    write_json(run_dir / "metrics.json", clean, allow_nan=False)


def set_aside(run_dir: Path) -> Path | None:
    """Move the results an earlier attempt left in `run_dir` (another config's, an interrupted
    one's, or a complete one about to be re-run) into `superseded/<time>_<its hash>/`; returns
    that folder, or None when there was nothing to move."""
    present = [run_dir / name for name in RESULT_FILES if (run_dir / name).exists()]
    if not present:
        return None
    old = read_json(run_dir / "status.json") or {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = run_dir / "superseded" / f"{stamp}_{str(old.get('config_hash', 'unknown'))[:8]}"
    aside.mkdir(parents=True, exist_ok=True)
    if (run_dir / "status.json").is_file():
        shutil.copy2(run_dir / "status.json", aside / "status.json")
    for path in present:
        os.replace(path, aside / path.name)
    return aside


def completed_metrics(run_dir: Path, digest: str) -> dict | None:
    """The metrics of an earlier complete run of the same config in this folder, if any."""
    metrics = read_json(run_dir / "metrics.json")
    return metrics if isinstance(metrics, dict) and metrics.get("config_hash") == digest else None


@dataclass
class RunFolder:
    """A finished run as the files hold it."""

    path: Path
    result: RunResult
    config: DictConfig | None  # .hydra/config.yaml, None when absent
    overrides: list[str]  # .hydra/overrides.yaml


def load_run(path: Path) -> RunFolder | str:
    """The finished run in `path`, or why it is not one."""
    status = read_json(path / "status.json")
    state = state_of(status)
    if state == "interrupted" and status.get("status") == "running":
        return f"interrupted (status running, but its process, {describe_owner(status.get('owner'))}, is gone)"
    if not (path / "metrics.json").is_file():
        if state == "failed":
            return f"failed ({status.get('error', 'no error recorded')})"
        return f"incomplete (status {state})" if state else "incomplete (no status.json or metrics.json)"
    if state not in (None, "complete"):
        return f"status {state} (metrics.json is from an earlier attempt)"
    metrics = read_json(path / "metrics.json")
    if not isinstance(metrics, dict):
        return "unreadable metrics.json"
    try:
        result = RunResult.from_json(metrics)
    except NotAResult as err:
        return f"incomplete metrics.json ({err})"
    hydra_dir = path / ".hydra"
    config = OmegaConf.load(hydra_dir / "config.yaml") if (hydra_dir / "config.yaml").is_file() else None
    overrides = list(OmegaConf.load(hydra_dir / "overrides.yaml")) if (hydra_dir / "overrides.yaml").is_file() else []
    return RunFolder(path, result, config, overrides)


def find_run_dirs(roots: list[Path]) -> list[Path]:
    """Every folder under roots that looks like a run folder (results, status or Hydra config)."""
    found = []
    for root in roots:
        for folder, subdirs, files in os.walk(root):
            if {"metrics.json", "status.json"} & set(files) or ".hydra" in subdirs:
                found.append(Path(folder))
            subdirs[:] = sorted(d for d in subdirs if d not in PRUNED_DIRS)
    return found
