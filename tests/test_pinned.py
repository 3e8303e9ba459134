"""Behaviour pinned before the "one home" refactor (tests/pinned/README.md says how it was made):
the default run's metrics.json with its per-stage metrics, every method's debug run, and the
report over those runs, all rerun through the CLI as a user runs them, with the CPU kernels capped
at AVX2 (`unlearn.runtime.AVX2_KERNELS`): the arithmetic of every x86 machine with AVX2, whether
or not it also has AVX-512, so the comparison is exact there."""

from __future__ import annotations

import csv
import json
import platform
from pathlib import Path

import numpy
import torch

from tests.conftest import ROOT, job_dir, read_metrics, run_cli
from unlearn.report import main as report_main
from unlearn.runtime import AVX2_KERNELS

PINNED = ROOT / "tests" / "pinned"
COMPARED = ("before", "after", "stages", "score", "score_components", "method", "forget", "backbone", "dataset", "seed")
# every method on the class; on the colour subgroup those that can forget a part of a class (EMMN,
# Lipschitz and space adaptation forget whole classes only, and are refused one)
DEBUG_SWEEPS = (("-m", "debug=default", "logger=none", "method=original,finetune,grad_ascent,neggrad_plus,random_label,"
                 "salun,scrub,emmn,lipschitz,space_adaptation,three_stage", "forget=synthetic_class_circle", "seed=0"),
                ("-m", "debug=default", "logger=none", "method=original,finetune,grad_ascent,neggrad_plus,random_label,"
                 "salun,scrub,three_stage", "forget=synthetic_subgroup_red_circle", "seed=0"))


def machine() -> dict:
    """What decides the pins' arithmetic: the kernels (x86 with AVX2, capped there) and the libraries."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text().split() if cpuinfo.is_file() else []
    return {"kernels": "x86 avx2" if platform.machine() == "x86_64" and "avx2" in flags else platform.machine(),
            "torch": torch.__version__, "numpy": numpy.__version__}


def cli_pinned(*args: str, cwd: Path):
    return run_cli(*args, cwd=cwd, env=AVX2_KERNELS)


def tolerance() -> float:
    """0 where the pins' arithmetic holds; elsewhere half a point (accuracies are fractions, scores points / 100)."""
    return 0.0 if machine() == json.loads((PINNED / "machine.json").read_text()) else 0.005


def assert_close(expected, actual, tol: float, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), where
        for key in expected:
            assert_close(expected[key], actual[key], tol, f"{where}/{key}")
    elif isinstance(expected, float):
        scale = 100.0 if where.endswith("score") else 1.0
        assert abs(actual - expected) <= tol * scale, f"{where}: pinned {expected}, now {actual}"
    else:
        assert actual == expected, f"{where}: pinned {expected!r}, now {actual!r}"


def test_default_run_matches_the_pin(tmp_path):
    run_dir = tmp_path / "run"
    proc = cli_pinned("logger=none", f"hydra.run.dir={run_dir}", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    pinned, now = json.loads((PINNED / "default_metrics.json").read_text()), read_metrics(run_dir)
    assert set(now["stages"]) == {"stage1", "stage2", "stage3"}
    for key in COMPARED:
        assert_close(pinned[key], now[key], tolerance(), key)


def _numeric_columns(path: Path) -> list[dict[str, str]]:
    """The report's CSV rows without the wall-time columns (they differ run to run)."""
    with path.open() as handle:
        return [{k: v for k, v in row.items() if not k.startswith("time/")} for row in csv.DictReader(handle)]


def test_every_method_debug_run_and_its_report_match_the_pin(tmp_path):
    sweep = tmp_path / "sweep"
    for args in DEBUG_SWEEPS:
        proc = cli_pinned(*args, f"hydra.sweep.dir={sweep}", cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-3000:]
    tol = tolerance()
    for job in sorted((PINNED / "debug_sweep").iterdir()):
        pinned = read_metrics(job)
        now = read_metrics(job_dir(sweep, f"method={pinned['method']}", f"forget={pinned['forget']}"))
        for key in COMPARED:
            assert_close(pinned[key], now[key], tol, f"{pinned['method']}/{pinned['forget']}/{key}")
    assert report_main([str(sweep), "--out", str(tmp_path / "report")]) == 0
    pinned_rows, rows = _numeric_columns(PINNED / "debug_report.csv"), _numeric_columns(tmp_path / "report" / "results.csv")
    assert len(rows) == len(pinned_rows)
    for expected, actual in zip(pinned_rows, rows):
        for key, value in expected.items():
            try:
                close = abs(float(actual[key]) - float(value)) <= 100 * tol
            except ValueError:
                close = actual[key] == value
            assert close, f"report {expected['method']} {key}: pinned {value}, now {actual[key]}"
