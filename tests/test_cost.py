"""The work a run records per phase (unlearn/cost.py), through the CLI."""

from __future__ import annotations

from tests.conftest import read_metrics
from tests.test_sweep_integrity import MINI, _image_folder
from unlearn.config.schema import CACHES_OFF
from unlearn.rundir import JOB_PHASES


def test_the_default_method_records_every_phase(cli, tmp_path):
    proc, run_dir = cli("debug=default", "logger=none", f"cache.dir={tmp_path / 'cache'}")
    assert proc.returncode == 0, proc.stderr
    cost = read_metrics(run_dir)["cost"]
    assert set(cost) == {"load_data", "cache_data", "before_eval", "unlearn", "after_eval", "fisher", "stage1", "stage2", "stage3", "soup_search",
                         "stage1_eval", "stage2_eval", "stage3_eval"}
    assert cost["before_eval"]["images_encoded"] > 0 and cost["before_eval"]["images_decoded"] == 0  # in-memory tensors
    inner = ("fisher", "stage1", "stage2", "stage3", "stage1_eval", "stage2_eval")  # stage3 holds its eval's soup part
    assert cost["unlearn"]["seconds"] >= sum(cost[p]["seconds"] for p in inner)  # phases nest inside `unlearn`
    assert cost["unlearn"]["images_encoded"] >= sum(cost[p]["images_encoded"] for p in inner)
    assert cost["after_eval"]["images_encoded"] == 0  # the features of the final weights were cached by stage3_eval


def test_image_files_count_as_decoded(cli, tmp_path):
    root = _image_folder(tmp_path / "data", ["cat", "dog"])  # 3 images per class and split
    proc, run_dir = cli(*MINI, f"dataset.root={root}", "forget.classes=[cat]", *CACHES_OFF)
    assert proc.returncode == 0, proc.stderr
    cost = read_metrics(run_dir)["cost"]
    assert cost["before_eval"]["images_decoded"] == cost["before_eval"]["images_encoded"] == 6  # the val split
    assert cost["unlearn"]["images_decoded"] > 0 and cost["unlearn"]["images_encoded"] > 0


def test_the_caches_cut_decodes_and_encodes_and_leave_every_metric_unchanged(cli, tmp_path):
    """Each job's metrics with every cache off and on (issue 15); the stage cap is a choice of
    what to measure, not a cache, so it is off in both."""
    root = _image_folder(tmp_path / "data", ["cat", "dog", "bird"])
    job = ("debug=default", "logger=none", "method=three_stage", "backbone=mini_rn", "dataset=image_folder",
           "forget=synthetic_class_circle", "forget.name=cat", "forget.classes=[cat]", f"dataset.root={root}",
           "dataset.num_workers=0", f"cache.dir={tmp_path / 'cache'}")
    runs = {}
    for name, switches in (("off", CACHES_OFF), ("cold", ("eval.stage_cap=null",)), ("warm", ("eval.stage_cap=null",))):
        proc, run_dir = cli(*job, *switches, run_dir=tmp_path / name)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs[name] = read_metrics(run_dir)
    for key in ("before", "after", "stages", "score", "paper_score", "score_components"):
        assert runs["cold"][key] == runs["off"][key] == runs["warm"][key], key
    decoded = {name: sum(p["images_decoded"] for n, p in m["cost"].items() if n in JOB_PHASES) for name, m in runs.items()}
    assert 3 * decoded["cold"] <= decoded["off"], decoded
    warm = runs["warm"]["cost"]
    assert warm["before_eval"]["images_encoded"] == 0 and warm["cache_data"]["images_decoded"] < decoded["cold"]
