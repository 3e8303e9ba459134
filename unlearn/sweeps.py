"""The end of every multirun: how many of this launch's jobs completed, failed, were skipped
(resume found them complete) or were interrupted, and one line per failed job.

A Hydra callback (`hydra.callbacks.sweep_summary` in conf/hydra/default.yaml). It tags the
launch: every job's status.json records the launch id (unlearn/rundir.py), whichever launcher
ran it, so the summary counts this launch's jobs and not the sweep folder's older ones. Printed
and written to `<sweep dir>/summary.json` when the launching process exits, also when Hydra
stops at a failed job (it re-raises only the first failure; the summary names them all).
"""

from __future__ import annotations

import atexit
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from unlearn.io import write_json
from unlearn.rundir import LAUNCH_ENV, find_run_dirs, read_json


def summarise(sweep_dir: Path, launch: str) -> dict[str, Any]:
    """Counts and per-job lines of the jobs of `launch` under `sweep_dir`."""
    jobs = []
    for folder in find_run_dirs([sweep_dir]):
        status = read_json(folder / "status.json")
        if not isinstance(status, dict) or status.get("launch") != launch:
            continue
        state = "skipped" if status.get("status") == "complete" and status.get("skipped") else status.get("status")
        job = {"folder": str(folder.relative_to(sweep_dir)), "status": state}
        if state == "failed":
            job["error"] = str(status.get("error", "no error recorded")).splitlines()[0]
        if state == "interrupted":
            job["signal"] = status.get("signal")
        jobs.append(job)
    counts = {state: sum(job["status"] == state for job in jobs)
              for state in ("complete", "failed", "skipped", "interrupted", "running")}
    return {"launch": launch, "jobs": len(jobs), **counts, "failed_jobs": [j for j in jobs if j["status"] == "failed"],
            "interrupted_jobs": [j for j in jobs if j["status"] == "interrupted"]}


def summary_lines(summary: dict[str, Any]) -> list[str]:
    head = f"{summary['complete']} complete, {summary['failed']} failed, {summary['skipped']} skipped"
    for state in ("interrupted", "running"):  # only when there are any: a clean sweep reads as above
        if summary[state]:
            head += f", {summary[state]} {state}"
    lines = [head]
    lines += [f"  failed: {job['folder']}: {job['error']}" for job in summary["failed_jobs"]]
    lines += [f"  interrupted: {job['folder']} ({job['signal']})" for job in summary["interrupted_jobs"]]
    return lines


class SweepSummary(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        launch = uuid.uuid4().hex[:12]
        os.environ[LAUNCH_ENV] = launch  # inherited by launcher processes (submitit local, Slurm's --export=ALL)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        atexit.register(self._report, sweep_dir, launch)

    @staticmethod
    def _report(sweep_dir: Path, launch: str) -> None:
        if not sweep_dir.is_dir():
            return
        summary = summarise(sweep_dir, launch)
        write_json(sweep_dir / "summary.json", summary)
        first, *rest = summary_lines(summary)
        print(f"sweep {sweep_dir}: {first}", *rest, sep="\n", file=sys.stderr, flush=True)
