"""End to end through `python -m unlearn`, as a user runs it."""

import json
import time

import pytest

from tests.conftest import DEBUG, ROOT, job_dir, job_dirs, read_metrics, run_cli
from unlearn.results import REQUIRED_METRICS


def test_debug_run_writes_complete_metrics_and_wandb_offline(cli):
    proc, run_dir = cli("debug=default")
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(run_dir)
    for phase in ("before", "after"):
        for key in REQUIRED_METRICS + ("zeroshot/heldout_pairs/acc", "zeroshot/heldout_style/acc",
                                    "zeroshot/heldout_colours/acc"):
            assert 0.0 <= metrics[phase][key] <= 1.0, (phase, key)
    for key in ("score", "time/unlearn_s", "time/eval_s"):
        assert metrics[key] >= 0
    assert json.loads((run_dir / "status.json").read_text())["status"] == "complete"
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


def test_same_seed_same_metrics_and_resume_skips(cli, tmp_path):
    proc_a, dir_a = cli(*DEBUG, run_dir=tmp_path / "a")
    proc_b, dir_b = cli(*DEBUG, run_dir=tmp_path / "b")
    assert proc_a.returncode == 0 and proc_b.returncode == 0, proc_a.stderr + proc_b.stderr
    a, b = read_metrics(dir_a), read_metrics(dir_b)
    assert a["before"] == b["before"] and a["after"] == b["after"] and a["score"] == b["score"]
    # re-running into a complete folder skips the job and leaves the metrics untouched
    stamp = (dir_a / "metrics.json").stat().st_mtime_ns
    proc, _ = cli(*DEBUG, run_dir=dir_a)
    assert proc.returncode == 0 and "skipping" in proc.stderr + proc.stdout
    assert (dir_a / "metrics.json").stat().st_mtime_ns == stamp


def test_multirun_two_jobs_in_distinct_folders(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", *DEBUG, "method=grad_ascent", "seed=0,1", f"hydra.sweep.dir={sweep}", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    jobs = job_dirs(sweep)
    assert sorted(read_metrics(job)["seed"] for job in jobs) == [0, 1] and len(jobs) == 2


def test_failed_job_does_not_stop_the_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", *DEBUG, "forget.classes=[circel],[circle]", f"hydra.sweep.dir={sweep}", cwd=ROOT)
    assert proc.returncode != 0
    bad, good = job_dir(sweep, "forget.classes=[circel]"), job_dir(sweep, "forget.classes=[circle]")
    assert not (bad / "metrics.json").exists()
    assert json.loads((bad / "status.json").read_text())["status"] == "failed"
    assert read_metrics(good)["forget"] == "synthetic_subgroup_red_circle"


@pytest.mark.parametrize("override, message", [
    ("forget.classes=[circel]", "unknown forget class circel for dataset synthetic; valid: circle, square"),
    ("forget.attributes.colour=mauve", "unknown colour 'mauve' in forget.attributes; valid: red"),
    ("method=nope", "Could not find 'method/nope'"),
    ("method.lrr=0.1", "Key 'lrr' not in 'GradAscentConfig'"),
    ("dataset=image_folder", "missing mandatory value(s): dataset.root"),
])
def test_bad_input_fails_with_one_clear_line(cli, override, message):
    proc, run_dir = cli(*DEBUG, override)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (run_dir / "metrics.json").exists()


def test_missing_dataset_folder(cli, tmp_path):
    missing = tmp_path / "no_such_dataset"
    proc, run_dir = cli(*DEBUG, "dataset=image_folder", f"dataset.root={missing}", "forget=synthetic_class_circle")
    assert proc.returncode != 0
    assert f"dataset root '{missing}' does not exist; expected layout root/" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (run_dir / "metrics.json").exists()


def test_pretrained_tag_offline_fails_fast(cli):
    start = time.time()
    proc, run_dir = cli(*DEBUG, "backbone=rn50")
    elapsed = time.time() - start
    assert proc.returncode != 0
    assert "pretrained weights RN50/openai are not available offline" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 30  # the interpreter start is most of it; the failure itself takes ms
