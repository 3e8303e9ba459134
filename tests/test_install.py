"""The framework installed the ways a user installs it: the console script of the editable
install, and a built wheel used from another folder (its config groups inside the package)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_the_console_script_runs_like_python_m_unlearn(tmp_path):
    script = Path(sys.executable).parent / "unlearn"
    proc = subprocess.run([str(script), "--cfg", "job", "method=grad_ascent", "seed=3"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "name: grad_ascent" in proc.stdout and "seed: 3" in proc.stdout


def test_a_wheel_runs_from_any_folder_with_its_own_config_groups(tmp_path):
    source, site = tmp_path / "source", tmp_path / "site"
    source.mkdir()
    # what a wheel is built from, copied: a build leaves its own folders beside the sources
    for name in ("pyproject.toml", "README.md", "conf", "unlearn"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name, **({"symlinks": True, "ignore": shutil.ignore_patterns("__pycache__")}
                                            if copy is shutil.copytree else {}))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(site), str(source)], check=True, capture_output=True, text=True, timeout=600)
    env = dict(os.environ, PYTHONPATH=str(site))
    where = subprocess.run([sys.executable, "-c", "import unlearn; print(unlearn.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert where.stdout.strip() == str(site / "unlearn" / "__init__.py")  # not the repository's
    assert not (site / "unlearn" / "conf").is_symlink() and (site / "unlearn" / "conf" / "config.yaml").is_file()
    proc = subprocess.run([sys.executable, "-m", "unlearn", "--cfg", "job", "method=scrub", "forget=synthetic_class_arrow"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "name: scrub" in proc.stdout and "name: synthetic_class_arrow" in proc.stdout
