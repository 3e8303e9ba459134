"""Issue 27's reproductions through the CLI: a cache never serves a wrong number nor fails a job,
and a full disk, a kill or a second launch never leaves a status that lies.

The data: an `image_folder` of PNGs drawn by the embedded world's renderer (circles, squares and
triangles), which the tiny CLIP names correctly; "swapped" redraws every class folder with the
next class's shape under the same file names, which it then names wrongly every time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT, fill, read_metrics
from unlearn.data import fakes as fake
from tests.data.test_real_datasets import PACS_CLASSES, PACS_STYLES
from unlearn.config.schema import CACHES_OFF
from unlearn.data import synthetic
from unlearn.rundir import load_run

CLASSES = ("circle", "square", "triangle")
JOB = ("debug=default", "logger=none", "method=grad_ascent", "dataset=image_folder", "forget=synthetic_class_circle",
       "forget.classes=[circle]", "dataset.num_workers=0")
PACS_JOB = (*JOB[:3], "dataset.num_workers=0", "backbone=mini_rn", "dataset=pacs", "forget=pacs_class_in_style_dog_sketch")
COMPARED = ("before", "after", "score")


def draw(root: Path, swapped: bool = False) -> Path:
    for split, seed in (("train", 0), ("val", 1)):
        for c, name in enumerate(CLASSES):
            shape = CLASSES[(c + 1) % len(CLASSES)] if swapped else name
            pool = synthetic.sample_pool([(synthetic.SHAPES.index(shape), colour, 0) for colour in range(4)], 2,
                                         seed + 10 * c)
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, pixels in enumerate(pool.images):
                Image.fromarray(pixels.transpose(1, 2, 0)).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return draw(tmp_path_factory.mktemp("drawn") / "data")


def job(cli, tmp_path, name: str, *overrides: str, base: tuple[str, ...] = JOB) -> dict:
    """A successful CLI job's metrics.json (with the warnings it logged under `warnings`)."""
    proc, run_dir = cli(*base, *overrides, run_dir=tmp_path / name)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return read_metrics(run_dir) | {"warnings": warnings(proc)}


def warnings(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if "[WARNING]" in line]


def same(a: dict, b: dict) -> bool:
    return all(a[key] == b[key] for key in COMPARED)


def test_images_rewritten_in_place_give_the_caches_off_numbers(cli, tmp_path, data):
    root = draw(tmp_path / "data")
    cache = f"cache.dir={tmp_path / 'cache'}"
    first = job(cli, tmp_path, "first", f"dataset.root={root}", cache)
    assert first["before"]["forget/acc"] == 1.0
    draw(root, swapped=True)  # the same file names, other pixels
    cached = job(cli, tmp_path, "cached", f"dataset.root={root}", cache)
    fresh = job(cli, tmp_path, "fresh", f"dataset.root={root}", *CACHES_OFF)
    assert same(cached, fresh) and fresh["before"]["forget/acc"] == 0.0  # not the stale 1.0


def test_a_zeroed_image_cache_is_named_and_rebuilt(cli, tmp_path, data):
    cache = tmp_path / "cache"
    fresh = job(cli, tmp_path, "fresh", f"dataset.root={data}", *CACHES_OFF)
    job(cli, tmp_path, "fill", f"dataset.root={data}", f"cache.dir={cache}")
    entries = {path: path.read_bytes() for path in (cache / "images").iterdir() if path.suffix != ".lock"}
    assert entries
    for path, content in entries.items():  # the middle half zeroed (pixels in any layout), the size kept
        quarter = len(content) // 4
        path.write_bytes(content[:quarter] + bytes(2 * quarter) + content[3 * quarter:])
    again = job(cli, tmp_path, "again", f"dataset.root={data}", f"cache.dir={cache}")
    assert same(again, fresh)
    named = [line for line in again["warnings"] if "discarded and rebuilt" in line]
    assert sorted(name for path in entries for name in named if str(path) in name) == sorted(named)
    assert len(named) == len(entries)
    assert {path: path.read_bytes() for path in entries} == entries  # rebuilt as they were


def test_damaged_feature_entries_are_named_and_computed_again(cli, tmp_path, data):
    cache = tmp_path / "cache"
    first = job(cli, tmp_path, "first", f"dataset.root={data}", f"cache.dir={cache}")
    entries = sorted((cache / "features").glob("*.pt"))
    assert entries
    for path in entries:
        path.write_bytes(path.read_bytes()[:100])  # truncated
    again = job(cli, tmp_path, "again", f"dataset.root={data}", f"cache.dir={cache}")
    assert same(again, first)
    assert len([line for line in again["warnings"] if "discarded and rebuilt" in line]) == len(entries)
    third = job(cli, tmp_path, "third", f"dataset.root={data}", f"cache.dir={cache}")
    assert same(third, first) and third["warnings"] == []  # stored whole again


def test_a_damaged_file_index_is_named_and_listed_again(cli, tmp_path):
    """The style-folder formats list their folders through the file index."""
    root = fake.write_style_folder(tmp_path / "pacs", PACS_STYLES, PACS_CLASSES)
    where = (f"dataset.root={root}", f"cache.dir={tmp_path / 'cache'}")
    first = job(cli, tmp_path, "first", *where, base=PACS_JOB)
    indexes = sorted((tmp_path / "cache" / "index").glob("*.json"))
    for index in indexes:
        index.write_text(index.read_text()[:-40])  # cut short
    again = job(cli, tmp_path, "again", *where, base=PACS_JOB)
    assert same(again, first)
    assert len(again["warnings"]) == len(indexes)
    assert all(any(f"file index cache entry {index} is damaged" in line for line in again["warnings"]) for index in indexes)


@pytest.mark.parametrize("storage", ["full", "read-only"])
def test_cache_storage_that_refuses_costs_one_line_and_never_the_job(cli, tmp_path, tmpfs, data, storage):
    folder = tmpfs(tmp_path / "cache", "256k", read_only=storage == "read-only")
    if storage == "full":
        fill(folder)
    fresh = job(cli, tmp_path, "fresh", f"dataset.root={data}", *CACHES_OFF)
    stored = job(cli, tmp_path, "stored", f"dataset.root={data}", f"cache.dir={folder}")
    assert same(stored, fresh)
    assert len(stored["warnings"]) == 1 and "cannot store in the cache folder" in stored["warnings"][0]
    assert not [p for p in folder.rglob("*") if p.is_file() and p.name != "filler" and not p.name.endswith(".lock")]


def test_seed_beyond_what_numpy_takes_fails_in_one_line(cli):
    proc, _ = cli(*JOB[:3], f"seed={2**40}")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"seed={2**40} is out of range; valid: [0, 4294967295] (RunConfig.seed)" in proc.stderr


QUICK = ("debug=default",)  # three-stage in the debug preset: ~3 s of unlearning, time to act on a running job


def start(run_dir: Path, *overrides: str, multirun: bool = False) -> subprocess.Popen:
    """A job in the background: the default method (~20 s of unlearning here) unless `overrides` say less."""
    where = f"hydra.sweep.dir={run_dir}" if multirun else f"hydra.run.dir={run_dir}"
    return subprocess.Popen([sys.executable, "-m", "unlearn", *(("-m",) if multirun else ()), "logger=none", where,
                             *overrides], cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(condition, what: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def unlearning(run_dir: Path) -> bool:
    """The job has measured the original model and is unlearning."""
    log = run_dir / "unlearn.log"
    return log.is_file() and "before:" in log.read_text()


def test_a_run_folder_that_fills_up_fails_loudly_and_never_says_complete(tmp_path, tmpfs):
    run_dir = tmpfs(tmp_path / "run", "2m")
    proc = start(run_dir, *QUICK)
    wait_for(lambda: unlearning(run_dir), "the job to unlearn")
    fill(run_dir)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert "Traceback" not in err, err[-3000:]
    assert len([line for line in err.splitlines() if "No space left on device" in line and "cannot" in line]) <= 2
    assert f"(No space left on device); the job stopped, and nothing in {run_dir} says complete" in err
    assert not (run_dir / "metrics.json").exists()
    reason = load_run(run_dir)
    assert isinstance(reason, str) and reason.startswith("interrupted (status running, but its process"), reason


def test_a_killed_job_reads_interrupted_and_runs_again(cli, tmp_path):
    run_dir = tmp_path / "run"
    proc = start(run_dir, *QUICK)
    wait_for(lambda: unlearning(run_dir), "the job to unlearn")
    proc.kill()
    proc.wait(timeout=60)
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "running" and status["owner"]["pid"] == proc.pid  # what SIGKILL leaves
    reason = load_run(run_dir)
    assert reason == f"interrupted (status running, but its process, pid {proc.pid} on {os.uname().nodename}, is gone)"

    again, _ = cli("logger=none", *QUICK, run_dir=run_dir)  # resume: runs it again, and says why
    assert again.returncode == 0, again.stderr[-2000:]
    assert "ended without recording it; running the job again" in again.stdout + again.stderr
    assert json.loads((run_dir / "status.json").read_text())["status"] == "complete"


def test_a_second_run_into_a_busy_folder_stops_in_one_line(cli, tmp_path):
    run_dir = tmp_path / "run"
    first = start(run_dir)
    wait_for(lambda: unlearning(run_dir), "the first job to unlearn")
    second, _ = cli("logger=none", run_dir=run_dir)
    assert second.returncode != 0 and "Traceback" not in second.stderr
    assert f"another process (pid {first.pid} on {os.uname().nodename}) is running the job in {run_dir}" in second.stderr
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "complete"


def test_a_second_launch_of_a_sweep_leaves_the_running_job_to_the_first(tmp_path):
    sweep = tmp_path / "sweep"
    first = start(sweep, "seed=0", multirun=True)
    wait_for(lambda: any(unlearning(d) for d in sweep.glob("*/")), "the first launch to unlearn")
    second = subprocess.run([sys.executable, "-m", "unlearn", "-m", "logger=none", f"hydra.sweep.dir={sweep}", "seed=0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "0 complete, 0 failed, 0 skipped, 1 running elsewhere" in second.stderr
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["elsewhere"] == 1 and summary["elsewhere_jobs"][0]["owner"].startswith(f"pid {first.pid} on ")
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert "1 complete, 0 failed, 0 skipped" in err
    (job_dir,) = [d for d in sweep.iterdir() if (d / "metrics.json").is_file()]
    assert not (job_dir / "superseded").exists()  # run once, by the first launch
    assert json.loads((sweep / "summary.json").read_text())["complete"] == 1
