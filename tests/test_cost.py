"""The work a run records per phase (unlearn/cost.py), through the CLI."""

from __future__ import annotations

from tests.conftest import read_metrics
from tests.test_sweep_integrity import MINI, _image_folder


def test_the_default_method_records_every_phase(cli):
    proc, run_dir = cli("debug=default", "logger=none")
    assert proc.returncode == 0, proc.stderr
    cost = read_metrics(run_dir)["cost"]
    assert set(cost) == {"before_eval", "unlearn", "after_eval", "fisher", "stage1", "stage2", "stage3", "soup_search",
                         "stage1_eval", "stage2_eval", "stage3_eval"}
    assert cost["before_eval"]["images_encoded"] > 0 and cost["before_eval"]["images_decoded"] == 0  # in-memory tensors
    inner = ("fisher", "stage1", "stage2", "stage3", "stage1_eval", "stage2_eval")  # stage3 holds its eval's soup part
    assert cost["unlearn"]["seconds"] >= sum(cost[p]["seconds"] for p in inner)  # phases nest inside `unlearn`
    assert cost["unlearn"]["images_encoded"] >= sum(cost[p]["images_encoded"] for p in inner)
    assert cost["after_eval"]["images_encoded"] == 0  # the features of the final weights were cached by stage3_eval


def test_image_files_count_as_decoded(cli, tmp_path):
    root = _image_folder(tmp_path / "data", ["cat", "dog"])  # 3 images per class and split
    proc, run_dir = cli(*MINI, f"dataset.root={root}", "forget.classes=[cat]")
    assert proc.returncode == 0, proc.stderr
    cost = read_metrics(run_dir)["cost"]
    assert cost["before_eval"]["images_decoded"] == cost["before_eval"]["images_encoded"] == 6  # the val split
    assert cost["unlearn"]["images_decoded"] > 0 and cost["unlearn"]["images_encoded"] > 0
