"""experiments/audit_validity.py: the judgement on constructed controls, and a small configuration
of the whole meta-evaluation through the CLI."""

import csv
import itertools
import os
import re
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "experiments"))
import audit_validity  # noqa: E402
import sweep_cli  # noqa: E402
import ulira  # noqa: E402


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


def test_the_committed_coverage_unless_specs_or_backbones_are_given():
    committed = audit_validity.cells(None, None)
    assert committed[0] == ("tiny_vit", "synthetic_class_circle")  # the costliest cell starts first
    assert [spec for backbone, spec in committed if backbone == "tiny_rn"] == list(audit_validity.SPECS)
    assert audit_validity.cells(["synthetic_class_arrow"], None) == [("tiny_rn", "synthetic_class_arrow")]
    assert audit_validity.cells(None, ["tiny_vit"]) == [("tiny_vit", spec) for spec in audit_validity.SPECS]


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


_WRITTEN = itertools.count(1)  # the stubs' metrics.json times, in seconds


def _run(folder, method, pretrain_seed, offset=None):
    """A run stub, each one written a second after the one before."""
    from types import SimpleNamespace

    folder.mkdir()
    (folder / "metrics.json").write_text("{}")
    written = next(_WRITTEN)
    os.utime(folder / "metrics.json", (written, written))
    result = SimpleNamespace(forget="synthetic_class_arrow", backbone="tiny_rn", method=method, seed=0)
    config = SimpleNamespace(method=SimpleNamespace(pretrain_seed_offset=offset))
    return SimpleNamespace(path=folder, result=result, pretrain_seed=pretrain_seed, config=config)


def test_a_control_run_again_under_a_newer_config_replaces_the_older_one(tmp_path):
    old, other_seed, original, new = (_run(tmp_path / "old", "mask_name", 1), _run(tmp_path / "seed2", "mask_name", 2),
                                      _run(tmp_path / "orig", "original", 1), _run(tmp_path / "new", "mask_name", 1))
    kept, replaced = sweep_cli.newest_per([new, old, original, other_seed], audit_validity.model_key)
    assert replaced == [old] and {r.path.name for r in kept} == {"new", "seed2", "orig"}


def test_ulira_keeps_a_shadow_and_a_known_answer_of_one_seed_and_replaces_an_older_shadow(tmp_path):
    """Both are method=retrain on the same pretraining seed and seed: the role tells them apart."""
    old_shadow, shadow = (_run(tmp_path / n, "retrain", 0, ulira.SHADOW_OFFSET) for n in ("old", "shadow"))
    held_out = _run(tmp_path / "held_out", "retrain", 0, ulira.HELD_OUT_OFFSET)
    kept, replaced = sweep_cli.newest_per([held_out, shadow, old_shadow], ulira.model_key)
    assert replaced == [old_shadow] and {r.path.name for r in kept} == {"shadow", "held_out"}


def test_a_bad_parallel_count_is_one_line(capsys):
    with pytest.raises(SystemExit):
        audit_validity.main(["--parallel", "0", "--no-sweep"])
    assert "argument --parallel: '0': give a whole number of at least 1" in capsys.readouterr().err


def test_reading_sweeps_that_never_ran_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match=re.escape(f"no such folder: {tmp_path / 'tiny_rn' / 'synthetic_class_arrow'}")):
        audit_validity.main(["--specs", "synthetic_class_arrow", "--no-sweep", "--runs", str(tmp_path)])
