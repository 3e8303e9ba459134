"""Nothing a sweep produces is lost, overwritten or silently wrong (issue 12's numbered problems),
each checked through the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import DEBUG, ROOT, compose_config, job_dirs, read_metrics, run_cli
from unlearn.errors import UnlearnError
from unlearn.run import Interrupted, check_config, interruptible
from unlearn.rundir import write_metrics


def status(folder: Path) -> dict:
    return json.loads((folder / "status.json").read_text())


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The error Hydra prints for a job: the line after 'Error executing job ...', no traceback."""
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc.stderr


def test_extending_a_grid_runs_only_the_new_configs_and_keeps_the_finished_ones(tmp_path):
    sweep = tmp_path / "sweep"
    grid = ("-m", *DEBUG, "method.lr=1e-3,2e-3", f"hydra.sweep.dir={sweep}")
    assert run_cli(*grid, "seed=0,1", cwd=ROOT).returncode == 0
    before = {job.name: (job / "metrics.json").read_bytes() for job in job_dirs(sweep)}
    assert len(before) == 4

    proc = run_cli(*grid, "seed=2,0,1", cwd=ROOT)  # extended and reordered
    assert proc.returncode == 0, proc.stderr
    after = {job.name: (job / "metrics.json").read_bytes() for job in job_dirs(sweep)}
    assert len(after) == 6 and {k: after[k] for k in before} == before  # byte-identical
    summary = json.loads((sweep / "summary.json").read_text())
    assert (summary["complete"], summary["skipped"], summary["failed"]) == (2, 4, 0)
    assert "2 complete, 0 failed, 4 skipped" in proc.stderr
    assert all(status(job)["status"] == "complete" for job in job_dirs(sweep))


def test_a_run_never_overwrites_or_keeps_another_configs_result(cli, tmp_path):
    run_dir = tmp_path / "run"
    proc, _ = cli(*DEBUG, run_dir=run_dir)
    assert proc.returncode == 0, proc.stderr
    first = read_metrics(run_dir)

    proc, _ = cli(*DEBUG, "forget.classes=[circel]", run_dir=run_dir)  # another config, which fails
    assert proc.returncode != 0
    assert status(run_dir)["status"] == "failed" and not (run_dir / "metrics.json").exists()  # nothing stale left
    moved = list((run_dir / "superseded").glob("*/metrics.json"))
    assert len(moved) == 1 and json.loads(moved[0].read_text()) == first  # set aside, not lost

    proc, _ = cli(*DEBUG, run_dir=run_dir)  # the first config again: it runs, and says complete
    assert proc.returncode == 0 and "skipping" not in proc.stdout + proc.stderr
    assert status(run_dir)["status"] == "complete"
    assert {k: read_metrics(run_dir)[k] for k in ("before", "after")} == {k: first[k] for k in ("before", "after")}


def test_a_skipped_job_says_complete_and_a_missing_checkpoint_reruns_it(cli, tmp_path):
    run_dir = tmp_path / "run"
    assert cli(*DEBUG, run_dir=run_dir)[0].returncode == 0
    (run_dir / "status.json").write_text(json.dumps({"status": "running"}))  # e.g. a reader saw it mid-write
    proc, _ = cli(*DEBUG, run_dir=run_dir)
    assert proc.returncode == 0 and "skipping" in proc.stdout + proc.stderr
    assert status(run_dir)["status"] == "complete" and status(run_dir)["skipped"] is True

    proc, _ = cli(*DEBUG, "save_checkpoint=true", run_dir=run_dir)  # complete, but without the asked-for model.pt
    assert proc.returncode == 0 and "skipping" not in proc.stdout + proc.stderr
    assert (run_dir / "model.pt").is_file() and status(run_dir)["status"] == "complete"


def test_sigterm_marks_the_job_interrupted_and_the_next_launch_reruns_it(tmp_path):
    run_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    job = subprocess.Popen([sys.executable, "-m", "unlearn", "logger=none", f"hydra.run.dir={run_dir}"], cwd=ROOT,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and "before:" not in _read(run_dir / "unlearn.log"):
        time.sleep(0.2)  # wait until the job is unlearning (the default method takes ~10 s there)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert status(run_dir)["status"] == "interrupted" and status(run_dir)["signal"] == "SIGTERM"
    assert not (run_dir / "metrics.json").exists()

    proc = run_cli("debug=default", "logger=none", f"hydra.run.dir={run_dir}", cwd=ROOT)  # another launch runs it
    assert proc.returncode == 0 and "skipping" not in proc.stdout + proc.stderr and status(run_dir)["status"] == "complete"
    history = [(step["status"], step.get("signal")) for step in status(run_dir)["history"]]
    assert history == [("running", None), ("interrupted", "SIGTERM"), ("running", None), ("complete", None)]


def test_usr2_in_a_submitit_job_is_submitits_requeue_then_an_interruption():
    """Slurm's warning before a time limit: submitit's own handler (checkpoint, `scontrol requeue`,
    exit) runs first, then the job records SIGUSR2; when submitit does not requeue, its error stands."""
    calls = []

    def requeue_and_exit(signum, frame):
        calls.append(signum)
        raise SystemExit(-1)

    def no_more_requeues(signum, frame):
        raise RuntimeError("Job not requeued because: timed-out too many times.")

    previous = signal.signal(signal.SIGUSR2, requeue_and_exit)
    try:
        with pytest.raises(Interrupted) as caught, interruptible():
            os.kill(os.getpid(), signal.SIGUSR2)
            time.sleep(5)
        assert calls == [signal.SIGUSR2] and caught.value.signal == "SIGUSR2"
        assert signal.getsignal(signal.SIGUSR2) is requeue_and_exit  # restored afterwards
        signal.signal(signal.SIGUSR2, no_more_requeues)
        with pytest.raises(RuntimeError, match="timed-out too many times"), interruptible():
            os.kill(os.getpid(), signal.SIGUSR2)
            time.sleep(5)
    finally:
        signal.signal(signal.SIGUSR2, previous)


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def test_the_sweep_summary_names_every_failed_job(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", *DEBUG, "forget.classes=[circel],[circle],[sqare]", f"hydra.sweep.dir={sweep}", cwd=ROOT)
    assert proc.returncode != 0
    assert "1 complete, 2 failed, 0 skipped" in proc.stderr
    failed = [line for line in proc.stderr.splitlines() if line.startswith("  failed: ")]
    assert len(failed) == 2 and any("circel" in line for line in failed) and any("sqare" in line for line in failed)
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["failed"] == 2 and {j["folder"] for j in summary["failed_jobs"]} == \
        {job.name for job in job_dirs(sweep) if status(job)["status"] == "failed"}


@pytest.mark.parametrize("override, message", [
    ("method.steps=0", "method.steps=0 is out of range; valid: >= 1 (GradAscentConfig.steps)"),
    ("method.steps=-5", "method.steps=-5 is out of range; valid: >= 1"),
    ("method.lr=0", "method.lr=0.0 is out of range; valid: > 0 (GradAscentConfig.lr)"),
    ("method.lr=-1", "method.lr=-1.0 is out of range; valid: > 0"),
    ("method.batch_size=0", "method.batch_size=0 is out of range; valid: >= 1"),
    ("num_threads=0", "num_threads=0 is out of range; valid: >= 1 (RunConfig.num_threads)"),
    ("task.calib_size=0", "task.calib_size=0 is out of range; valid: >= 1"),
    ("method.stop_acc=1.5", "method.stop_acc=1.5 is out of range; valid: [0, 1]"),
    ("+method.lrr=1", "unknown key method.lrr (not in GradAscentConfig)"),
])
def test_out_of_range_values_and_unknown_keys_fail_before_any_work(override, message):
    with pytest.raises(UnlearnError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]").replace("+", r"\+")):
        check_config(compose_config(*DEBUG, override))


def test_every_numeric_field_of_every_schema_declares_its_range():
    import dataclasses

    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from unlearn.config import schema

    classes = {OmegaConf.get_type(ConfigStore.instance().load(f"schema/{g}/{n}").node)
               for g in ("method", "dataset") for n in ConfigStore.instance().list(f"schema/{g}")}
    classes |= {schema.RunConfig, schema.TaskConfig, schema.EvalConfig, schema.PretrainConfig, schema.PretrainRunConfig}
    unranged = [f"{cls.__name__}.{f.name}" for cls in classes for f in dataclasses.fields(cls)
                if any(t in str(f.type) for t in ("int", "float")) and "range" not in f.metadata]
    assert unranged == []


def test_a_bad_value_fails_through_the_cli_with_one_line(cli):
    proc, run_dir = cli(*DEBUG, "method.steps=-5", "dataset.batch_size=4")
    assert "Key 'batch_size' not in 'SyntheticDatasetConfig'" in one_line_error(proc)  # a key nothing reads is gone
    proc, run_dir = cli(*DEBUG, "method.steps=-5")
    assert "method.steps=-5 is out of range; valid: >= 1" in one_line_error(proc)
    assert status(run_dir)["status"] == "failed"


def test_forgetting_every_class_is_rejected_before_any_work(cli):
    everything = "[circle,square,triangle,diamond,cross,star,crescent,heart,arrow,bar]"
    proc, _ = cli(*DEBUG, "forget=synthetic_class_circle", f"forget.classes={everything}")
    assert "leaves no retain training images in dataset synthetic" in one_line_error(proc)
    assert "before:" not in proc.stdout + proc.stderr


def _image_folder(root: Path, classes: list[str]) -> Path:
    for split in ("train", "val"):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(3):
                pixels = np.random.default_rng(i).integers(0, 255, (36, 36, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.jpg")
    return root


MINI = ("debug=default", "logger=none", "method=grad_ascent", "backbone=mini_rn", "dataset=image_folder",
        "forget=synthetic_class_circle", "forget.name=cat")


def test_a_one_class_dataset_is_rejected_in_one_line(cli, tmp_path):
    root = _image_folder(tmp_path / "data", ["cat"])
    proc, _ = cli(*MINI, f"dataset.root={root}", "forget.classes=[cat]")
    assert "dataset image_folder has 1 class; zero-shot unlearning needs at least two" in one_line_error(proc)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_truncated_image_is_named_in_one_line(cli, tmp_path, workers):
    root = _image_folder(tmp_path / "data", ["cat", "dog"])
    bad = root / "val" / "dog" / "1.jpg"
    bad.write_bytes(bad.read_bytes()[:200])
    proc, _ = cli(*MINI, f"dataset.root={root}", "forget.classes=[cat]", f"dataset.num_workers={workers}")
    assert f"cannot decode image '{bad}'" in one_line_error(proc)


def test_skip_bad_images_leaves_them_out_and_counts_them(cli, tmp_path):
    root = _image_folder(tmp_path / "data", ["cat", "dog"])
    bad = root / "val" / "dog" / "1.jpg"
    bad.write_bytes(bad.read_bytes()[:200])
    proc, run_dir = cli(*MINI, f"dataset.root={root}", "forget.classes=[cat]", "dataset.skip_bad_images=true")
    assert proc.returncode == 0, proc.stderr
    assert read_metrics(run_dir)["data/undecodable"] == {"test": 1}


def test_an_unreadable_checkpoint_is_named_without_unsafe_advice(cli, tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_text("not a checkpoint")
    proc, _ = cli(*DEBUG, "backbone=mini_rn", f"backbone.pretrained={bad}")
    err = one_line_error(proc)
    assert f"checkpoint '{bad}' cannot be read (not a PyTorch file" in err and "weights_only" not in err


def test_metrics_json_is_strict_json_with_undefined_values_named(tmp_path):
    write_metrics(tmp_path, {"before": {"forget/acc": 1.0}, "after": {"forget/acc": float("nan")}, "score": 0.0})
    text = (tmp_path / "metrics.json").read_text()
    metrics = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in metrics.json"))
    assert metrics["after"]["forget/acc"] is None and "after/forget/acc" in metrics["undefined"]


def _processes_with(text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
def test_a_preempted_submitit_job_is_requeued_and_finishes(tmp_path):
    """submitit's preemption signal (USR2) on a running job: the Hydra launcher checkpoints and
    requeues it (submitit's checkpoint/requeue), the job says `interrupted`, then runs again and completes."""
    sweep = tmp_path / "sweep"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    launch = subprocess.Popen([sys.executable, "-m", "unlearn", "-m", "logger=none", "seed=0", "hydra/launcher=local",
                               f"hydra.sweep.dir={sweep}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and not any("before:" in _read(log) for log in sweep.glob("*/unlearn.log")):
        time.sleep(0.2)
    # the task process (not submitit's local controller, which would die of the signal)
    workers = [pid for pid in _processes_with(str(sweep / ".submitit")) if pid in _processes_with("submitit.core._submit")]
    assert len(workers) == 1, "no single submitit task process found"
    os.kill(workers[0], signal.SIGUSR2)  # submitit's signal before a time limit or on preemption
    _, err = launch.communicate(timeout=300)
    assert launch.returncode == 0, err[-3000:]
    (job,) = job_dirs(sweep)
    assert status(job)["status"] == "complete" and read_metrics(job)["seed"] == 0
    log = (job / "unlearn.log").read_text()
    assert "interrupted by SystemExit" in log and log.count("before:") == 2  # interrupted, then run again
    assert any("preempted" in _read(p) for p in (sweep / ".submitit").glob("*/*_log.err"))


def test_the_summary_counts_each_launch_by_its_own_records(tmp_path):
    """Issue 27, 7 and 6: a launch counts what it did with each job (`.launches/<id>.json`), whatever
    another launch wrote into status.json since; a `running` whose process is gone reads interrupted."""
    from unlearn.rundir import this_process
    from unlearn.sweeps import summarise, summary_lines

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = this_process() | {"pid": int(gone.stdout), "started": 0.0}
    records = {"a": {"status": "complete"}, "b": {"status": "running", "owner": dead},
               "c": {"status": "elsewhere", "owner": dead | {"pid": 4242}}, "d": {"status": "failed", "error": "boom"}}
    for name, record in records.items():
        (tmp_path / name / ".launches").mkdir(parents=True)
        (tmp_path / name / "status.json").write_text(json.dumps({"status": "complete", "launch": "other"}))
        (tmp_path / name / ".launches" / "mine.json").write_text(json.dumps(record))
    (tmp_path / "e").mkdir()  # another launch's job only
    (tmp_path / "e" / "status.json").write_text(json.dumps({"status": "complete", "launch": "other"}))
    summary = summarise(tmp_path, "mine")
    assert (summary["complete"], summary["failed"], summary["interrupted"], summary["elsewhere"]) == (1, 1, 1, 1)
    lines = summary_lines(summary)
    assert lines[0] == "1 complete, 1 failed, 0 skipped, 1 interrupted, 1 running elsewhere"
    assert f"  interrupted: b (its process, pid {dead['pid']} on {dead['host']}, ended)" in lines
    assert f"  running elsewhere: c (pid 4242 on {dead['host']})" in lines


def test_seeds_are_checked_against_what_numpy_takes():
    check_config(compose_config(*DEBUG, f"seed={2**32 - 1}"))
    with pytest.raises(UnlearnError, match=r"^seed=4294967296 is out of range; valid: \[0, 4294967295\]"):
        check_config(compose_config(*DEBUG, f"seed={2**32}"))
