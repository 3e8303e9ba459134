"""The end of every multirun: how many of this launch's jobs completed, failed, were skipped
(resume found them complete), were interrupted, or were left to another process that was running
them (a second launch into the same sweep folder), and one line per such job.

A Hydra callback (`hydra.callbacks.sweep_summary` in conf/hydra/default.yaml). It tags the
launch: every job records what this launch did with it in `.launches/<launch id>.json` of its
folder (unlearn/rundir.py), whichever launcher ran it, so the summary counts this launch's jobs,
not the sweep folder's older ones, nor those of a launch running beside it. Printed
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
from unlearn.rundir import LAUNCH_ENV, describe_owner, find_run_dirs, launch_record, state_of

STATES = ("complete", "failed", "skipped", "interrupted", "running", "elsewhere")


def summarise(sweep_dir: Path, launch: str) -> dict[str, Any]:
    """Counts and per-job lines of the jobs of `launch` under `sweep_dir`."""
    jobs = []
    for folder in find_run_dirs([sweep_dir]):
        record = launch_record(folder, launch)
        if record is None:
            continue
        state = state_of(record)
        if state == "running" and record.get("owner", {}).get("pid") == os.getpid():
            state = "interrupted"  # the summary runs when its launcher exits: this process's job has ended
        state = "skipped" if state == "complete" and record.get("skipped") else state
        job = {"folder": str(folder.relative_to(sweep_dir)), "status": state}
        if state == "failed":
            job["error"] = str(record.get("error", "no error recorded")).splitlines()[0]
        if state == "interrupted":
            job["signal"] = record.get("signal") or f"its process, {describe_owner(record.get('owner'))}, ended"
        if state == "elsewhere":
            job["owner"] = describe_owner(record.get("owner"))
        jobs.append(job)
    counts = {state: sum(job["status"] == state for job in jobs) for state in STATES}
    return {"launch": launch, "jobs": len(jobs), **counts,
            **{f"{state}_jobs": [j for j in jobs if j["status"] == state] for state in ("failed", "interrupted", "elsewhere")}}


def summary_lines(summary: dict[str, Any]) -> list[str]:
    head = f"{summary['complete']} complete, {summary['failed']} failed, {summary['skipped']} skipped"
    for state, label in (("interrupted", "interrupted"), ("running", "running"), ("elsewhere", "running elsewhere")):
        if summary[state]:  # only when there are any: a clean sweep reads as above
            head += f", {summary[state]} {label}"
    lines = [head]
    lines += [f"  failed: {job['folder']}: {job['error']}" for job in summary["failed_jobs"]]
    lines += [f"  interrupted: {job['folder']} ({job['signal']})" for job in summary["interrupted_jobs"]]
    lines += [f"  running elsewhere: {job['folder']} ({job['owner']})" for job in summary["elsewhere_jobs"]]
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
