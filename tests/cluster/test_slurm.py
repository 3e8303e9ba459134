"""The cluster path on a real Slurm: one node with accounting (tests/cluster/slurm.sh), sweeps submitted
through the CLI with `hydra/launcher=slurm_cpu`, the commands of docs/cluster-tutorial.md.

`make test-cluster` (marked `cluster`: outside `make test`). The two requeue scenarios wait ~2 min
for Slurm to start a requeued job again, so they are launched in the background when the module
starts and checked last; the other scenarios run meanwhile. The method `gate` (tests/cluster/
gate_plugin, installed for these tests only) holds a job until the test has interrupted it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, install_gate_plugin

pytestmark = pytest.mark.cluster

HERE = Path(__file__).parent
PAGE = (ROOT / "docs" / "cluster-tutorial.md").read_text()
JOB = ("debug=default", "method=grad_ascent")  # a whole job in ~10 s on one core
LAUNCHER = "hydra/launcher=slurm_cpu"
TIMEOUT_S = 420  # any one sweep here; a requeued one waits ~2 min for Slurm to start it again


@pytest.fixture(scope="module")
def slurm(tmp_path_factory) -> dict[str, str]:
    """A running test Slurm (installed and started when missing, stopped afterwards), and the
    environment a sweep needs: its SLURM_CONF, the gate plugin, offline W&B and Hugging Face."""
    proc = subprocess.run(["bash", str(HERE / "slurm.sh"), "start"], capture_output=True, text=True, timeout=600)
    if proc.returncode == 3 and not os.environ.get("UNLEARN_REQUIRE_SLURM"):
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    conf = proc.stdout.strip().splitlines()[-1].removeprefix("export SLURM_CONF=")
    site = install_gate_plugin(tmp_path_factory)
    yield {"SLURM_CONF": conf, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    subprocess.run(["bash", str(HERE / "slurm.sh"), "stop"], capture_output=True, text=True, timeout=120)


def command(*args: str) -> str:
    """The command line as docs/cluster-tutorial.md writes it (the sweep folder as $SWEEP)."""
    return " ".join(["python -m unlearn -m", LAUNCHER, *args, "hydra.sweep.dir=$SWEEP"])


def start_sweep(env: dict[str, str], sweep: Path, *args: str, on_page: bool = True) -> subprocess.Popen:
    """The sweep in the background; unless the gate holds a job (a test device), as the page writes it."""
    assert not on_page or command(*args) in PAGE, f"docs/cluster-tutorial.md lacks: {command(*args)}"
    return subprocess.Popen([sys.executable, "-m", "unlearn", "-m", LAUNCHER, *args, f"hydra.sweep.dir={sweep}"],
                            cwd=sweep.parent, env=dict(os.environ, PYTHONUNBUFFERED="1", **env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    output, _ = proc.communicate(timeout=TIMEOUT_S)
    assert "sacct" not in output, output  # submitit reads job states from accounting, silently
    return proc.returncode, output


def run_sweep(env: dict[str, str], sweep: Path, *args: str) -> tuple[int, str]:
    return finish(start_sweep(env, sweep, *args))


def slurm_cmd(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(list(args), env=dict(os.environ, **env), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr, f"{' '.join(args)}: {proc.stderr}"  # scancel errs with 0
    return proc.stdout


def summary(sweep: Path) -> dict:
    return json.loads((sweep / "summary.json").read_text())


def folders(sweep: Path) -> dict[str, Path]:
    """The sweep's job folders by their command line's overrides, joined."""
    return {" ".join(yaml.safe_load((d / ".hydra" / "overrides.yaml").read_text())): d
            for d in (p.parent.parent for p in sweep.glob("*/.hydra/overrides.yaml"))}


def status(job: Path) -> dict:
    return json.loads((job / "status.json").read_text())


def wait_for(path: Path, proc: subprocess.Popen) -> str:
    """The file's text once it appears (while the sweep `proc` still runs)."""
    deadline = time.monotonic() + TIMEOUT_S
    while not path.exists():
        assert proc.poll() is None, f"the sweep ended before {path} appeared: {proc.communicate()[0]}"
        assert time.monotonic() < deadline, f"{path} did not appear within {TIMEOUT_S} s"
        time.sleep(0.5)
    time.sleep(0.2)  # written in one go, but give the writer its moment
    return path.read_text().strip()


def array_intervals(env: dict[str, str], sweep: Path) -> list[tuple[float, float]]:
    """(start, end) of every task of the sweep's job array, from accounting."""
    array = {p.name.split("_")[0] for p in (sweep / ".submitit").glob("[0-9]*_*")}
    assert len(array) == 1, array
    array_id, deadline = array.pop(), time.monotonic() + 60
    while "Unknown" in (rows := slurm_cmd(env, "sacct", "-n", "-X", "-P", "-j", array_id, "-o", "JobID,Start,End")):
        assert time.monotonic() < deadline, rows  # a job's end reaches accounting a moment after its result
        time.sleep(1)
    return [tuple(datetime.fromisoformat(t).timestamp() for t in row.split("|")[1:]) for row in rows.split()]


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    return max(sum(s < end and start < e for s, e in intervals) for start, end in intervals)


# The two requeue scenarios, started in the background at the module's start -------------------------


class Requeued:
    """A one-job sweep whose job waits at the gate until Slurm interrupts it; `interrupt` (when given)
    is what the test does to it once it is waiting."""

    def __init__(self, env, sweep: Path, *args: str, interrupt=None):
        self.sweep, self.gate = sweep, sweep.parent / f"{sweep.name}.gate"
        self.proc = start_sweep(env, sweep, *args, f"method.path={self.gate}", on_page=False)
        self.interrupted: list[str] = []
        if interrupt:
            threading.Thread(target=self._interrupt, args=(interrupt,), daemon=True).start()

    def _interrupt(self, interrupt) -> None:
        job = wait_for(self.gate.with_name(f"{self.gate.name}.waiting"), self.proc)
        interrupt(job)
        self.interrupted.append(job)


@pytest.fixture(scope="module", autouse=True)
def requeued(slurm, tmp_path_factory) -> dict[str, Requeued]:
    root = tmp_path_factory.mktemp("requeued")
    sweeps = {
        # the limit is 2 min; Slurm sends USR2 60 s before it (to within its 30 s check)
        "time_limit": Requeued(slurm, root / "time_limit", "debug=default", "method=gate",
                               "hydra.launcher.timeout_min=2", "hydra.launcher.signal_delay_s=60",
                               "hydra.launcher.max_num_timeout=1"),
        "preempted": Requeued(slurm, root / "preempted", "debug=default", "method=gate",
                              interrupt=lambda job: slurm_cmd(slurm, "scontrol", "requeue", job)),
    }
    yield sweeps
    for sweep in sweeps.values():  # a test that failed early leaves its sweep waiting
        sweep.proc.kill()
        sweep.proc.communicate()


# The scenarios ---------------------------------------------------------------------------------------


def test_a_four_job_sweep_completes_with_its_summary_wandb_runs_and_metrics(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    code, output = run_sweep(slurm, sweep, *JOB, "seed=0,1,2,3")
    assert code == 0, output
    assert f"sweep {sweep}: 4 complete, 0 failed, 0 skipped" in output
    assert summary(sweep) | {"launch": None} == {
        "launch": None, "jobs": 4, "complete": 4, "failed": 0, "skipped": 0, "interrupted": 0, "running": 0,
        "elsewhere": 0, "failed_jobs": [], "interrupted_jobs": [], "elsewhere_jobs": []}
    jobs = folders(sweep)
    assert sorted(jobs) == [f"debug=default method=grad_ascent seed={s}" for s in range(4)]
    for job in jobs.values():
        assert status(job)["status"] == "complete"
        assert json.loads((job / "metrics.json").read_text())["after"]["retain/acc"] > 0
        assert len(list((job / "wandb").glob("offline-run-*"))) == 1
    assert most_at_once(array_intervals(slurm, sweep)) >= 2  # unlimited, they ran side by side


def test_array_parallelism_limits_how_many_jobs_run_at_once(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    code, output = run_sweep(slurm, sweep, *JOB, "seed=0,1,2", "hydra.launcher.array_parallelism=1")
    assert code == 0 and "3 complete, 0 failed" in output, output
    intervals = array_intervals(slurm, sweep)
    assert len(intervals) == 3 and most_at_once(intervals) == 1


def test_a_failing_job_does_not_stop_the_array_and_the_summary_names_its_error(slurm, tmp_path):
    sweep = tmp_path / "sweep"
    code, output = run_sweep(slurm, sweep, *JOB, "method.lr=0.001,-1")
    assert code != 0
    assert f"sweep {sweep}: 1 complete, 1 failed, 0 skipped" in output, output
    assert "failed: " in output and "method.lr=-1.0 is out of range; valid: > 0" in output
    (failed,) = summary(sweep)["failed_jobs"]
    assert "method.lr=-1" in failed["folder"] and "out of range" in failed["error"]
    jobs = folders(sweep)
    assert status(jobs["debug=default method=grad_ascent method.lr=0.001"])["status"] == "complete"


def test_a_cancelled_task_is_counted_and_resubmitting_runs_exactly_that_job(slurm, tmp_path):
    sweep, gate, opened = tmp_path / "sweep", tmp_path / "gate", [tmp_path / "open1", tmp_path / "open2"]
    for path in opened:
        path.touch()  # two of the three jobs pass their gate at once
    args = ("debug=default", "method=gate", f"method.path={gate},{opened[0]},{opened[1]}")
    proc = start_sweep(slurm, sweep, *args, on_page=False)
    slurm_cmd(slurm, "scancel", wait_for(tmp_path / "gate.waiting", proc))
    code, output = finish(proc)
    assert code != 0  # a job without a result fails the sweep, after the whole array has ended
    assert f"sweep {sweep}: 2 complete, 0 failed, 0 skipped, 1 interrupted" in output, output
    assert "CANCELLED" in output  # the launcher names the job's Slurm state
    (interrupted,) = summary(sweep)["interrupted_jobs"]
    gated = next(job for overrides, job in folders(sweep).items() if f"method.path={gate}" in overrides)
    assert interrupted["folder"] == gated.name and interrupted["signal"] == "SIGTERM"
    assert status(gated)["status"] == "interrupted"

    gate.touch()
    code, output = finish(start_sweep(slurm, sweep, *args, on_page=False))
    assert code == 0 and f"sweep {sweep}: 1 complete, 0 failed, 2 skipped" in output, output
    assert status(gated)["status"] == "complete" and not status(gated).get("skipped")


def test_a_job_past_its_time_limit_is_requeued_and_completes(requeued):
    job = requeued["time_limit"]
    code, output = finish(job.proc)
    assert code == 0 and "1 complete, 0 failed, 0 skipped" in output, output
    assert "Caught signal SIGUSR2" in "".join(p.read_text() for p in job.sweep.glob(".submitit/*/*_log.*"))
    (folder,) = folders(job.sweep).values()
    history = [(step["status"], step.get("signal")) for step in status(folder)["history"]]
    assert history == [("running", None), ("interrupted", "SIGUSR2"), ("running", None), ("complete", None)]


def test_a_preempted_job_comes_back_and_completes(requeued):
    job = requeued["preempted"]
    code, output = finish(job.proc)
    assert job.interrupted, "the test never requeued the job"
    assert code == 0 and "1 complete, 0 failed, 0 skipped" in output, output
    (folder,) = folders(job.sweep).values()
    history = [(step["status"], step.get("signal")) for step in status(folder)["history"]]
    assert history == [("running", None), ("interrupted", "SIGTERM"), ("running", None), ("complete", None)]
