"""W&B carries everything metrics.json carries, for every kind of method: read from the offline
run file itself (tests/wandb_records.py), no sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import read_metrics
from tests.wandb_records import history, records, summary
from unlearn.rundir import numeric_leaves

RUNS = {
    "three_stage": (),  # the default method: per-stage metrics, tables and an image mid-run
    "space_adaptation": ("method=space_adaptation", "forget=synthetic_class_circle"),
    "grad_ascent": ("method=grad_ascent",),
}


def run_file(run_dir: Path) -> Path:
    files = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1, files
    return files[0]


@pytest.mark.parametrize("method", RUNS)
def test_every_number_of_metrics_json_reaches_the_wandb_summary(cli, method):
    proc, run_dir = cli("debug=default", "logger=wandb", *RUNS[method])
    assert proc.returncode == 0, proc.stderr
    path = run_file(run_dir)
    metrics, logged = read_metrics(run_dir), summary(path)
    expected = numeric_leaves(metrics)
    assert any(key.startswith("stages/") for key in expected) == (method == "three_stage")
    missing = sorted(k for k in expected if k not in logged)
    assert missing == []
    assert {k: logged[k] for k in expected} == expected
    # the history keeps the final row (W&B drops rows logged at a step behind its own)
    after_keys = {f"after/{k}" for k in metrics["after"]}
    assert any(after_keys <= set(row) for row in history(path))
    assert "ignoring partial history record" not in (path.parent / "logs" / "debug-internal.log").read_text()
    run = next(r.run for r in records(path) if r.WhichOneof("record_type") == "run")
    assert {"dataset", "backbone", "method", "forget", "task", "seed"} <= {item.key for item in run.config.update}
