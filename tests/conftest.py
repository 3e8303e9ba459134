"""Shared fixtures: offline environment, config composition, and a CLI runner."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# No network here: a missing pretrained tag must fail at once, and W&B stays local.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
# The data caches (features, decoded images) of this test session, not the user's: a test never
# reads what an older version of the code stored. Tests that count decodes use a folder of their own.
os.environ["UNLEARN_DATA_CACHE_DIR"] = tempfile.mkdtemp(prefix="unlearn-test-cache-")

from hydra import compose, initialize_config_dir  # noqa: E402

from unlearn.config import setup  # noqa: E402

setup()  # what every entrypoint does before composing


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch

    torch.set_num_threads(1)


def compose_config(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=False)


def run_cli(*args: str, cwd: Path, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m unlearn ARGS` in a subprocess (the way a user runs it), `env` added to ours."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "unlearn", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


GATE_PLUGIN = ROOT / "tests" / "cluster" / "gate_plugin"  # the method `gate`: holds a job until a file exists


def install_gate_plugin(tmp_path_factory) -> Path:
    """The gate plugin installed into a folder of its own: put it on PYTHONPATH to have `method=gate`."""
    source = tmp_path_factory.mktemp("gate") / "gate_plugin"  # a build leaves folders beside its sources
    shutil.copytree(GATE_PLUGIN, source)
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                    str(site), str(source)], check=True, capture_output=True, text=True, timeout=300)
    return site


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture
def compose_cfg():
    return compose_config


@pytest.fixture
def cli(tmp_path):
    """Run the entrypoint with its run folder under tmp_path; returns (process, run_dir)."""

    def run(*overrides: str, run_dir: Path | None = None):
        run_dir = run_dir or tmp_path / "run"
        proc = run_cli(f"hydra.run.dir={run_dir}", *overrides, cwd=ROOT)
        return proc, run_dir

    return run


@pytest.fixture
def tmpfs(tmp_path):
    """mount(where, size, read_only=False): a tmpfs of `size` (e.g. "1m") at `where`, unmounted after
    the test; the test is skipped, with the reason, where mounting is impossible (not root, no
    CAP_SYS_ADMIN)."""
    mounted = []

    def mount(where: Path, size: str, read_only: bool = False) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        options = f"size={size}" + (",ro" if read_only else "")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True,
                              text=True)
        if proc.returncode:
            pytest.skip(f"cannot mount a tmpfs at {where} ({proc.stderr.strip() or proc.returncode}): needs root")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path) -> None:
    """Fill the file system under `folder` to the last byte (a file `filler` there)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for block in (4096, 1):  # then the last bytes of a partial block
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * block):
                    pass
    finally:
        os.close(fd)


# the debug preset with the quickest method and no logger: a whole job in seconds
DEBUG = ("debug=default", "logger=none", "method=grad_ascent")


def job_dirs(sweep: Path) -> list[Path]:
    """A sweep's job folders (named by their overrides and config hash, unlearn/rundir.py), by name."""
    return sorted(p.parent.parent for p in sweep.glob("*/.hydra/overrides.yaml"))


def job_dir(sweep: Path, *overrides: str) -> Path:
    """The one job folder of `sweep` whose command line holds every one of `overrides`."""
    import yaml

    found = [d for d in job_dirs(sweep) if set(overrides) <= set(yaml.safe_load((d / ".hydra" / "overrides.yaml").read_text()))]
    assert len(found) == 1, (overrides, found)
    return found[0]
