"""Plugins from the user's own installed package (unlearn/plugins.py, examples/plugin/): the way
a user runs them, in subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, read_metrics, run_cli

PLUGIN = ROOT / "examples" / "plugin"


@pytest.fixture(scope="module")
def plugin_source(tmp_path_factory) -> Path:
    """A copy of examples/plugin: a build leaves its own folders beside the sources, not in the repository."""
    source = tmp_path_factory.mktemp("plugin") / "plugin"
    shutil.copytree(PLUGIN, source)
    return source


@pytest.fixture(scope="module")
def plugin_site(plugin_source, tmp_path_factory) -> Path:
    """examples/plugin installed (its wheel built and unpacked) into a folder of its own, entry point and all."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(site), str(plugin_source)], check=True, capture_output=True, text=True, timeout=300)
    return site


def test_the_plugins_own_tests_pass_with_it_installed(plugin_source, plugin_site):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(plugin_source / "tests")],
                          cwd=plugin_source, env=dict(os.environ, PYTHONPATH=str(plugin_site)), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "2 passed" in proc.stdout, proc.stdout + proc.stderr


def test_a_plugin_method_and_metric_run_through_the_cli_and_show_in_the_report(plugin_site, tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(f"hydra.run.dir={run_dir}", "method=shrink_text", "forget=synthetic_class_arrow", "debug=default",
                   "logger=none", "+metric@eval.metrics.name_norm=name_norm", cwd=tmp_path,
                   env={"PYTHONPATH": str(plugin_site)})
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(run_dir)
    assert metrics["method"] == "shrink_text" and metrics["method_rank"] == 85
    assert metrics["before"]["forget/acc"] > 0.5 and metrics["after"]["forget/acc"] < 0.2 * metrics["before"]["forget/acc"]
    assert metrics["after"]["others/acc"] > 0.5
    assert metrics["summary"] == {"shrink_text/tokens": 1}  # ctx.summary reaches metrics.json with logger=none
    shrunk = json.loads((run_dir / "artifacts" / "shrunk_tokens.json").read_text())
    assert shrunk["names"] == ["arrow"] and shrunk["scale"] == 0.0
    norm = metrics["before"]["name_norm"]
    assert f"name_norm {norm:.4g}" in proc.stdout  # logged in its own units, not ×100

    report = subprocess.run([sys.executable, "-m", "unlearn.report", str(run_dir), "--out", str(tmp_path / "report")],
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    results = (tmp_path / "report" / "results.md").read_text()
    header = next(line for line in results.splitlines() if line.startswith("| Backbone"))
    row = next(line for line in results.splitlines() if "| shrink_text |" in line)
    assert row.split(" | ")[2] == "debug=default"  # an added metric is a measurement, not a variant of the method
    assert header.split(" | ")[-1].strip(" |") == "name_norm"
    assert row.split(" | ")[-1].strip(" |") == f"{metrics['after']['name_norm']:.1f}"
    assert "name_norm" in (tmp_path / "report" / "results.csv").read_text().splitlines()[0]


def test_a_plugin_that_cannot_be_imported_is_one_line(tmp_path):
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[unlearn.plugins]\nbroken = no_such_module_here\n")
    proc = run_cli("--cfg", "job", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "plugin 'broken'" in lines[0] and "no_such_module_here" in lines[0], proc.stderr
