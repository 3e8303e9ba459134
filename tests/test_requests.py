"""Deletion requests one after another (unlearn/requests.py), through the CLI: every request's
forget accuracy measured after every request, W&B stepped by the request, batch beside
sequential, each item checked before any work, and resume after an interruption."""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import DEBUG, ROOT, compose_config, install_gate_plugin, read_metrics
from tests.test_experiments import sweep_params
from tests.wandb_records import history
from unlearn import audit
from unlearn.data import build_benchmark, dataset_catalog, synthetic
from unlearn.data.tasks import build_task, union_task, validate_forget
from unlearn.errors import UnlearnError
from unlearn.methods import METHODS
from unlearn.report import main as report_main
from unlearn.requests import check, expanded
from unlearn.rundir import config_hash

THREE = "requests=[synthetic_class_arrow,synthetic_subgroup_red_circle,synthetic_class_heart]"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One folder holding grad_ascent honouring three requests in order (with offline W&B) and at
    once (~30 s)."""
    root = tmp_path_factory.mktemp("requests")
    for mode in ("sequential", "batch"):
        proc = subprocess.run([sys.executable, "-m", "unlearn", f"hydra.run.dir={root / mode}", "method=grad_ascent",
                               f"mode={mode}", THREE], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def three_requests(runs):
    return runs / "sequential", read_metrics(runs / "sequential")


def test_request_1_is_measured_after_every_request_and_stays_forgotten(three_requests):
    _, metrics = three_requests
    steps = metrics["requests"]
    assert sorted(steps) == ["1", "2", "3"]
    assert [steps[i]["forget"] for i in ("1", "2", "3")] == [
        "synthetic_class_arrow", "synthetic_subgroup_red_circle", "synthetic_class_heart"]
    before = steps["1"]["before"]["forget/1/acc"]
    assert before > 0.9
    for i in ("1", "2", "3"):  # request 1 (arrows) forgotten when asked, and still after requests 2 and 3
        assert steps[i]["after"]["forget/1/acc"] <= 0.1 * before, (i, steps[i]["after"])
    # a request not yet made is not forgotten: hearts before request 3, forgotten after it
    assert steps["2"]["after"]["forget/3/acc"] > 0.9
    assert steps["3"]["after"]["forget/3/acc"] <= 0.1 * steps["3"]["before"]["forget/3/acc"]
    # the job's own measurement is the last request's, its forget set every request's images
    assert metrics["after"] == steps["3"]["after"]
    assert metrics["forget"] == "synthetic_class_arrow+synthetic_subgroup_red_circle+synthetic_class_heart"
    assert metrics["method_label"] == "grad_ascent (sequential)"
    assert metrics["time/unlearn_s"] == pytest.approx(sum(steps[i]["time/unlearn_s"] for i in steps))


def test_wandb_steps_the_measurements_by_request(three_requests):
    run_dir, metrics = three_requests
    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    rows = [row for row in history(path) if "request" in row]
    assert [row["request"] for row in rows] == [0, 1, 2, 3]
    assert rows[2]["requests/after/forget/1/acc"] == metrics["requests"]["2"]["after"]["forget/1/acc"]
    assert rows[0]["requests/after/forget/1/acc"] == metrics["requests"]["1"]["before"]["forget/1/acc"]


def test_batch_honours_the_union_at_once(runs):
    metrics = read_metrics(runs / "batch")
    assert "requests" not in metrics
    assert metrics["method_label"] == "grad_ascent (batch)"
    assert {"forget/1/acc", "forget/2/acc", "forget/3/acc"} <= set(metrics["after"])
    assert metrics["after"]["forget/acc"] <= 0.1 * metrics["before"]["forget/acc"]
    # both modes measure the same original on the same sets
    assert metrics["before"] == read_metrics(runs / "sequential")["before"]


def test_the_report_has_a_table_per_request_the_held_verdicts_and_the_plot(runs, tmp_path):
    assert report_main([str(runs), "--out", str(tmp_path)]) == 0
    text = (tmp_path / "results.md").read_text()
    for i in (1, 2, 3):
        assert f"After request {i} of 3" in text
    sequential, batch = (read_metrics(runs / mode) for mode in ("sequential", "batch"))
    r1 = 100 * sequential["requests"]["2"]["after"]["forget/1/acc"]
    assert f"| grad_ascent (sequential) | 1 | {r1:.1f} |" in text  # request 1 after request 2
    last = text[text.index("After request 3 of 3"):]
    assert "| grad_ascent (batch) | 1 |" in last  # batch beside sequential in the last table
    worst = max(batch["after"][f"forget/{j}/acc"] / batch["before"][f"forget/{j}/acc"] for j in (1, 2, 3))
    retain = batch["after"]["retain/acc"] / batch["before"]["retain/acc"]
    held = "yes" if worst <= 0.1 and retain >= 0.9 else "no"
    assert f"| grad_ascent (batch) | 1 | {100 * worst:.1f} | {100 * retain:.1f} | {held} |" in text
    assert len(list(tmp_path.glob("requests_*_tiny_rn.png"))) == 1
    with (tmp_path / "requests.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["method"], r["request"]) for r in rows] == [("original (before)", "0"), *(
        ("grad_ascent (sequential)", str(i)) for i in (1, 2, 3)), ("grad_ascent (batch)", "3")]
    assert float(rows[2]["forget/1/acc mean"]) == pytest.approx(r1)


def test_sequential_and_batch_measure_the_same_sets():
    """The last request's measurement task is the batch job's: the same images, the same masks."""
    cfg = expanded(compose_config("logger=none", THREE))
    bench = build_benchmark(cfg.dataset, transform=None)
    union = union_task(bench, list(cfg.requests), cfg.task, cfg.seed)
    for j, spec in enumerate(cfg.requests, 1):
        alone = build_task(bench, spec, cfg.task, cfg.seed)
        assert union.test_masks[f"forget/{j}"].sum() == alone.test_masks["forget"].sum()
    assert (union.test_masks["forget"] == (union.test_masks["forget/1"] | union.test_masks["forget/2"]
                                           | union.test_masks["forget/3"])).all()
    assert not (union.test_masks["retain"] & union.test_masks["forget"]).any()


def test_a_later_request_retains_nothing_already_forgotten():
    """Request 2 (class circle) after request 1 (red circles): its retain sets hold no red circle,
    and class arrow forgotten earlier is not among the classes a method keeps."""
    cfg = expanded(compose_config("logger=none", "requests=[synthetic_subgroup_red_circle,synthetic_class_arrow]"))
    bench = build_benchmark(cfg.dataset, transform=None)
    first, second = cfg.requests
    task = build_task(bench, second, cfg.task, cfg.seed, exclude=[first])
    circle = bench.classnames.index("circle")
    for images in (task.retain_train, task.calib_retain):
        red_circles = (images.labels == circle) & (images.attributes["colour"] == "red")
        assert len(images) and not red_circles.any()
    assert build_task(bench, first, cfg.task, cfg.seed).forgotten_classes == []
    later = build_task(bench, first, cfg.task, cfg.seed, exclude=[second])
    assert later.forgotten_classes == [bench.classnames.index("arrow")]


@pytest.mark.parametrize(("overrides", "message"), [
    (("requests=[synthetic_class_arrow,no_such_preset]",), "requests[1]=no_such_preset: no such forget preset; valid: "),
    (("requests=[{name:x,kind:klass,classes:[arrow]}]",), "requests[0].kind: Invalid value 'klass'"),
    (("method=emmn", "requests=[synthetic_class_arrow,synthetic_subgroup_red_circle]"),
     "method=emmn forgets whole classes only; requests[1]=synthetic_subgroup_red_circle is a part of its class"),
    (("method=retrain", "requests=[synthetic_class_arrow]"), "method=retrain forgets one spec per job"),
])
def test_every_request_is_checked_before_any_work(overrides, message):
    with pytest.raises(UnlearnError, match=None) as err:
        check(expanded(compose_config("logger=none", *overrides)))
    assert message in str(err.value)


def test_a_bad_request_stops_the_cli_with_one_line_and_no_run_folder(cli):
    proc, run_dir = cli("logger=none", "requests=[synthetic_class_arrow,no_such_preset]")
    assert proc.returncode != 0
    assert "requests[1]=no_such_preset: no such forget preset" in proc.stderr
    assert "Traceback" not in proc.stderr and not (run_dir / "status.json").exists()


def _wait_for(condition, what: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the job ended while waiting for {what}: {proc.stdout.read()[-3000:] if proc.stdout else ''}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_an_interrupted_job_resumes_after_the_last_saved_request(tmp_path, tmp_path_factory):
    """Four requests; the gate lets requests 1 and 2 through, then the job is interrupted (SIGTERM)
    while request 3 waits at it. The next launch of the same command starts at request 3."""
    gate, run_dir = tmp_path / "gate", tmp_path / "run"
    waiting = gate.with_name("gate.waiting")
    env = dict(os.environ, PYTHONPATH=str(install_gate_plugin(tmp_path_factory)), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "unlearn", f"hydra.run.dir={run_dir}", "logger=none", "method=gate",
               f"method.path={gate}", "method.consume=true",
               "requests=[synthetic_class_arrow,synthetic_subgroup_red_circle,synthetic_class_heart,synthetic_class_star]"]

    def let_through(proc: subprocess.Popen, requests: int) -> None:
        for _ in range(requests):
            _wait_for(waiting.exists, "a request at the gate", proc)
            gate.touch()
            _wait_for(lambda: not gate.exists(), "the request to pass", proc)

    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    let_through(first, 2)
    _wait_for(waiting.exists, "request 3 at the gate", first)
    saved = (run_dir / "requests" / "1" / "result.json").read_text()
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 128 + signal.SIGTERM
    assert json.loads((run_dir / "status.json").read_text())["status"] == "interrupted"
    assert sorted(p.name for p in (run_dir / "requests").iterdir()) == ["1", "2"]
    assert (run_dir / "requests" / "2" / "model.pt").is_file() and not (run_dir / "metrics.json").exists()

    waiting.unlink()
    second = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    let_through(second, 2)
    log = second.communicate(timeout=300)[0]
    assert second.returncode == 0, log[-3000:]
    assert "resuming after request 2 of 4 (synthetic_subgroup_red_circle)" in log
    started = [line.split(" - ")[-1] for line in log.splitlines() if " - request " in line]
    assert started == ["request 3 of 4: synthetic_class_heart", "request 4 of 4: synthetic_class_star"]
    assert (run_dir / "requests" / "1" / "result.json").read_text() == saved
    assert sorted(read_metrics(run_dir)["requests"]) == ["1", "2", "3", "4"]
    assert [p.name for p in (run_dir / "requests").glob("*/model.pt")] == ["model.pt"]  # the last request's only


def test_the_config_hash_tells_modes_and_request_contents_apart():
    single = compose_config("logger=none")
    sequential, batch = (expanded(compose_config("logger=none", THREE, f"mode={m}")) for m in ("sequential", "batch"))
    assert len({config_hash(single), config_hash(sequential), config_hash(batch)}) == 3
    assert config_hash(compose_config("logger=none", "mode=batch")) == config_hash(single)  # no requests: as ever
    inline = expanded(compose_config("logger=none", "requests=[{name:synthetic_class_arrow,kind:class,classes:[heart]}]"))
    named = expanded(compose_config("logger=none", "requests=[synthetic_class_arrow]"))
    assert config_hash(inline) != config_hash(named)  # the spec, not its name


def test_a_failing_request_is_named_and_the_earlier_ones_stay_saved(tmp_path, tmp_path_factory):
    """The gate lets request 1 through; request 2 waits there past its time-out and fails."""
    gate, run_dir = tmp_path / "gate", tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(install_gate_plugin(tmp_path_factory)), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "unlearn", f"hydra.run.dir={run_dir}", "logger=none", "method=gate",
                             f"method.path={gate}", "method.consume=true", "method.timeout_s=5", THREE],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(gate.with_name("gate.waiting").exists, "request 1 at the gate", proc)
    gate.touch()
    log = proc.communicate(timeout=300)[0]
    assert proc.returncode != 0
    line = next(line for line in log.splitlines() if "request 2 of 3" in line and "failed" in line)
    assert "request 2 of 3 (synthetic_subgroup_red_circle) failed: method.path=" in line
    assert "the gate was not opened within 5 s; request 1 is saved in" in line and "Traceback" not in log
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "request 2 of 3" in status["error"]
    assert (run_dir / "requests" / "1" / "result.json").is_file() and (run_dir / "requests" / "1" / "model.pt").is_file()
    assert not (run_dir / "requests" / "2").exists() and not (run_dir / "metrics.json").exists()


def _sweep_jobs(preset: str) -> list[list[str]]:
    """Every job of the preset's sweep, one seed (seeds compose alike)."""
    params = sweep_params(preset)
    params["seed"] = params["seed"][:1]
    return [[f"experiment={preset}", *(f"{k}={v}" for k, v in zip(params, combo))]
            for combo in itertools.product(*params.values())]


@pytest.mark.parametrize("preset", ["sequential_synthetic", "sequential_caltech101"])
def test_every_job_of_the_sequential_presets_composes_and_validates(preset):
    jobs = _sweep_jobs(preset)
    assert {o for job in jobs for o in job if o.startswith("mode=")} == {"mode=sequential", "mode=batch"}
    for overrides in jobs:
        cfg = expanded(compose_config(*overrides))
        check(cfg)
        for spec in cfg.requests:
            validate_forget(dataset_catalog(cfg.dataset), spec)
    kinds = {spec.kind for spec in expanded(compose_config(*jobs[0])).requests}
    if preset == "sequential_synthetic":  # at least 5 requests: classes, colour subgroups and a style
        assert len(expanded(compose_config(*jobs[0])).requests) >= 5 and {"class", "subgroup", "style"} <= kinds
        # every method that can forget a part of a class, none that cannot
        methods = {o.removeprefix("method=") for job in jobs for o in job if o.startswith("method=")}
        able = {n for n, e in METHODS.load().items() if e.extras.get("forgets") != "whole_classes"
                and e.extras.get("requests", True) is not False}
        assert methods == able


def test_the_real_data_preset_fails_fast_offline(tmp_path):
    job = _sweep_jobs("sequential_caltech101")[0]
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "unlearn", *job, "hydra.mode=RUN", f"hydra.run.dir={tmp_path}",
                           "logger=none", f"dataset.root={tmp_path / 'nowhere'}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0 and time.monotonic() - start < 120
    assert "Traceback" not in proc.stderr and not (tmp_path / "metrics.json").exists()
    assert str(tmp_path / "nowhere") in proc.stderr or "openai" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("mode", ["sequential", "batch"])
def test_the_audit_measures_the_final_model_against_every_request(cli, mode):
    proc, run_dir = cli("logger=none", *DEBUG, "method=grad_ascent", "audit=standard", f"mode={mode}", THREE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = read_metrics(run_dir)
    for model in ("original", "unlearned"):
        assert {f"audit/{model}/probe/forget/acc", f"audit/{model}/relearn/3/forget/acc",
                f"audit/{model}/mia/power"} <= set(metrics), model
    # the three requests name different attributes (none, red): no attribute prompt set
    assert not any("/prompts/attribute/" in key for key in metrics)


def test_the_reference_is_pretrained_without_every_request():
    cfg = expanded(compose_config("logger=none", "audit=standard", "audit.reference=retrain", THREE))
    leave_out = audit.reference_backbone(cfg).pretrain.leave_out
    assert [dict(spec.attributes) for spec in leave_out] == [{}, {"colour": "red"}, {}]
    left = set(synthetic.training_combos()) - set(synthetic.training_combos(leave_out))
    shapes, colours = list(synthetic.SHAPES), list(synthetic.COLOURS)
    assert {shapes[s] for s, _, _ in left} == {"arrow", "circle", "heart"}
    assert {colours[c] for s, c, _ in left if shapes[s] == "circle"} == {"red"}
    # one spec keeps the leave-out it always had (and with it its cached checkpoint's name)
    single = audit.reference_backbone(compose_config("logger=none", "audit=standard", "audit.reference=retrain"))
    assert dict(single.pretrain.leave_out) == {"classes": ["circle"], "attributes": {"colour": "red"}}


def test_a_killed_job_resumes_to_exactly_the_uninterrupted_result(runs, tmp_path):
    """SIGKILL once request 2 of 3 is saved (grad_ascent: request 3 takes seconds), then the same
    command again: every request's measurement equals the uninterrupted run's."""
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "unlearn", f"hydra.run.dir={run_dir}", "method=grad_ascent", "mode=sequential",
               THREE, "logger=none"]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for((run_dir / "requests" / "2" / "result.json").exists, "request 2 saved", first, timeout=300)
    first.kill()
    first.wait(timeout=60)
    assert not (run_dir / "metrics.json").exists()
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming after request 2 of 3" in second.stdout + second.stderr
    resumed, uninterrupted = read_metrics(run_dir), read_metrics(runs / "sequential")
    for i in ("1", "2", "3"):
        for phase in ("before", "after"):
            assert resumed["requests"][i][phase] == uninterrupted["requests"][i][phase], (i, phase)
    assert resumed["after"] == uninterrupted["after"] and resumed["score"] == uninterrupted["score"]
