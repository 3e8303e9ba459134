"""experiments/audit_validity.py: the judgement on constructed controls, and a small configuration
of the whole meta-evaluation through the CLI."""

import csv
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "experiments"))
import audit_validity  # noqa: E402


def test_separable_controls_are_a_signal_and_identical_ones_are_not():
    found = audit_validity.judge([0.99, 0.98, 1.0], [0.95, 0.97, 0.96], [0.40, 0.35, 0.45], sign=+1)
    assert found["auroc"] == 1.0 and found["effect"] > 10 and found["ordered"] and found["verdict"] == "signal"
    same = audit_validity.judge([0.0, 0.0, 0.0], [0.01, 0.0, 0.02], [0.0, 0.02, 0.01], sign=+1)
    assert same["auroc"] == pytest.approx(0.5, abs=0.2) and same["verdict"] == "no signal"
    # a measure where more knowledge reads lower (steps to half): the direction is its sign's
    steps = audit_validity.judge([1, 1, 1], [3, 3, 1], [60, 60, 30], sign=-1)
    assert steps["auroc"] == 1.0 and steps["verdict"] == "signal"
    assert audit_validity.judge([1.0], [], [0.1, 0.2], sign=+1)["verdict"].startswith("no signal (the measure is undefined")


def test_a_colour_subgroup_has_no_shallow_control():
    assert audit_validity.has_shallow_control("synthetic_class_arrow")
    assert audit_validity.has_shallow_control("synthetic_subgroup_circle")  # a whole class in its group
    assert not audit_validity.has_shallow_control("synthetic_subgroup_red_circle")


def test_a_small_meta_evaluation_runs_end_to_end(tmp_path):
    """One class spec, two pretraining seeds of 2-step tiny CLIPs, debug sizes: the three controls
    per seed run through the CLI, and every measure gets a row."""
    code = audit_validity.main(["--specs", "synthetic_class_arrow", "--seeds", "0", "1", "--out", str(tmp_path),
                                "--runs", str(tmp_path / "runs"), "--extra", "backbone.pretrain.steps=2", "debug=default"])
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "validity.csv").open()))
    assert {r["measure"] for r in rows} == set(audit_validity.MEASURES)
    assert all(r["auroc"] for r in rows if r["measure"] != "mia/efficacy")  # both controls measured
    assert (tmp_path / "validity_synthetic_class_arrow_tiny_rn.png").read_bytes()[:4] == b"\x89PNG"
    assert "## synthetic_class_arrow" in (tmp_path / "validity.md").read_text()


def test_a_control_run_again_under_a_newer_config_replaces_the_older_one(tmp_path):
    from types import SimpleNamespace

    def run(name, method, pretrain_seed):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text("{}")
        result = SimpleNamespace(forget="synthetic_class_arrow", backbone="tiny_rn", method=method, seed=0)
        return SimpleNamespace(path=tmp_path / name, result=result, pretrain_seed=pretrain_seed)

    old, other_seed, original, new = (run("old", "mask_name", 1), run("seed2", "mask_name", 2),
                                      run("orig", "original", 1), run("new", "mask_name", 1))
    kept, stale = audit_validity.newest_per_model([new, old, original, other_seed])
    assert stale == [old] and {r.path.name for r in kept} == {"new", "seed2", "orig"}


def test_a_bad_parallel_count_is_one_line(capsys):
    with pytest.raises(SystemExit):
        audit_validity.main(["--parallel", "0", "--no-sweep"])
    assert "argument --parallel: '0': give a whole number of at least 1" in capsys.readouterr().err
