"""Every entrypoint works from a fresh process: its --help, and every config it composes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

ENTRYPOINTS = {
    "unlearn": [sys.executable, "-m", "unlearn", "--help"],
    "unlearn.pretrain": [sys.executable, "-m", "unlearn.pretrain", "--help"],
    "unlearn.report": [sys.executable, "-m", "unlearn.report", "--help"],
    "unlearn.throughput": [sys.executable, "-m", "unlearn.throughput", "--help"],
    "experiments/reproduce.py": [sys.executable, "experiments/reproduce.py", "--help"],
    "experiments/check_report.py": [sys.executable, "experiments/check_report.py", "--help"],
    "experiments/float_noise.py": [sys.executable, "experiments/float_noise.py", "--help"],
}


def run(command: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="offline")
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name", ENTRYPOINTS)
def test_help(name):
    proc = run(ENTRYPOINTS[name])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and "Traceback" not in proc.stderr


def test_every_root_config_and_every_option_composes_in_a_fresh_process():
    proc = run([sys.executable, "tests/config/compose_all.py"], timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["failures"] == []
    assert result["composed"] > 100  # every group's options were found


def test_pretrain_composes_through_its_entrypoint():
    proc = run([sys.executable, "-m", "unlearn.pretrain", "backbone=tiny_vit", "--cfg", "job"])
    assert proc.returncode == 0, proc.stderr
    assert "arch: TinyViT" in proc.stdout and "steps: 1500" in proc.stdout


def test_pretrain_rejects_a_backbone_it_cannot_pretrain_in_one_line():
    proc = run([sys.executable, "-m", "unlearn.pretrain", "backbone=rn50"])
    assert proc.returncode != 0
    assert "backbone rn50 is not pretrained here" in proc.stderr and "Traceback" not in proc.stderr


def test_report_imports_no_torch(tmp_path):
    """The JSON-reading report runs on the committed fixture sweep without torch, open_clip or a method."""
    code = ("import sys; from unlearn.report import main; "
            f"code = main(['tests/pinned/debug_sweep', '--out', r'{tmp_path}']); "
            "heavy = sorted(m for m in ('torch', 'open_clip', 'unlearn.methods', 'unlearn.run') if m in sys.modules); "
            "print(heavy); sys.exit(code or bool(heavy))")
    proc = run([sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "results.md").is_file()


def test_help_lists_the_user_facing_groups_only():
    proc = run(ENTRYPOINTS["unlearn"])
    groups = proc.stdout.split("== Config groups (group=option) ==", 1)[1].split("==", 1)[0]
    assert "schema/" not in groups
    for group in ("dataset:", "method:", "forget:", "experiment:", "hydra/launcher: local, slurm"):
        assert group in groups
