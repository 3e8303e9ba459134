"""experiments/check_report.py: which committed rows it reruns, and that a wrong committed value fails."""

from __future__ import annotations

import csv
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = ROOT / "experiments" / "check_report.py"
COMMITTED = ROOT / "experiments" / "results" / "synthetic" / "results.csv"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_committed_row_reproduces_and_a_wrong_value_fails(tmp_path):
    with COMMITTED.open() as handle:
        rows = list(csv.DictReader(handle))
    row = next(r for r in rows if r["row"] == "ours" and r["method"] == "grad_ascent" and r["backbone"] == "tiny_rn"
               and r["forget"] == "synthetic_subgroup_circle")
    wrong = dict(row, **{"retain/acc": str(float(row["retain/acc"]) + 5.0)})
    path = tmp_path / "results.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerows([row, wrong])
    proc = run("--all", "--report", str(path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 of 2 rows reproduce within tolerance" in proc.stdout
    assert "retain/acc" in proc.stdout and "OUT OF ±1" in proc.stdout
