"""experiments/check_report.py: which committed rows it reruns, and that a wrong committed value fails."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "experiments" / "check_report.py"
COMMITTED = ROOT / "experiments" / "results" / "synthetic" / "results.csv"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_committed_row_reproduces_and_a_wrong_value_fails(tmp_path):
    """One rerun of a committed row whose retain value is set 5 points off: that value fails, every
    other value of the row reproduces (diff 0.00 on any machine within ±1)."""
    with COMMITTED.open() as handle:
        rows = list(csv.DictReader(handle))
    row = next(r for r in rows if r["row"] == "ours" and r["method"] == "space_adaptation" and r["backbone"] == "tiny_rn"
               and r["forget"] == "synthetic_class_heart")  # a quick row: 3 seeds in seconds
    wrong = dict(row, **{"retain/acc": str(float(row["retain/acc"]) + 5.0)})
    path = tmp_path / "results.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(wrong)
    proc = run("--all", "--report", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "0 of 1 rows reproduce within tolerance" in proc.stdout
    values = [line for line in proc.stdout.splitlines() if " committed " in line]
    assert len(values) >= 6 and all(("OUT OF ±1" in line) == line.strip().startswith("retain/acc") for line in values)


def load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_method_is_held_and_the_kernels_reach_the_rerun(monkeypatch, tmp_path):
    """No method is exempt (Lipschitz included: it decides in float64); `--kernels avx2` puts the
    capping variables into the rerun's environment, and the row's first line names the kernels."""
    from types import SimpleNamespace

    module = load_script()
    rerun_row = SimpleNamespace(kind="ours", values={"forget/acc": (80.0, None)})
    envs = []

    def fake_run(cmd, **kwargs):
        envs.append(kwargs["env"])
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    monkeypatch.setattr(module, "report", lambda dirs, out, _: ([SimpleNamespace(rows=[rerun_row])], None))
    row = {"dataset": "synthetic", "forget": "synthetic_class_arrow", "backbone": "tiny_rn", "variant": "",
           "seeds": "0 1", "forget/acc": "0.0"}
    for method in ("lipschitz", "grad_ascent"):
        rerun_row.method = method
        ok, lines = module.check(dict(row, method=method), tmp_path, "avx2")
        assert not ok and "OUT OF ±1" in lines[1] and "diff +80.00" in lines[1], lines
        assert "avx2 kernels" in lines[0]
    assert all(env["ATEN_CPU_CAPABILITY"] == "avx2" and env["ONEDNN_MAX_CPU_ISA"] == "AVX2" for env in envs)
    module.check(dict(row, method="grad_ascent"), tmp_path)  # native: this process's own environment
    assert envs[-1] == dict(os.environ)


def test_a_row_reruns_on_the_pretrained_models_it_was_measured_on():
    module = load_script()
    crossed = {"seeds": "0 1 0 1 0 1", "pretrain_seeds": "0 0 1 1 2 2"}  # the table presets
    assert module.unit_overrides(crossed) == ["backbone.pretrain.seed=0,1,2", "seed=0,1"]
    assert module.unit_overrides({"seeds": "0 1 2", "pretrain_seeds": "0 1 2"}) == ["backbone.pretrain.seed=${seed}",
                                                                                      "seed=0,1,2"]
    assert module.unit_overrides({"seeds": "0 1", "pretrain_seeds": "2 2"}) == ["backbone.pretrain.seed=2", "seed=0,1"]
    assert module.unit_overrides({"seeds": "0 1", "pretrain_seeds": ""}) == ["seed=0,1"]
    assert module.unit_overrides({"seeds": "0 1"}) == ["seed=0,1"]  # a report from before the column
    with pytest.raises(ValueError, match="neither a cross product"):
        module.unit_overrides({"seeds": "0 1 0", "pretrain_seeds": "0 0 1"})
