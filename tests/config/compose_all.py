"""Compose every root config and every option of every config group, in a fresh process (run by
tests/config/test_entrypoints.py, so nothing a test imported beforehand can help). Prints one
JSON object: {"composed": n, "failures": ["<config> <override>: <error>", ...]}."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from unlearn.config import setup

CONF = Path(__file__).resolve().parents[2] / "conf"
# groups whose options are selected on the command line (nested groups by their path)
MAIN_GROUPS = ("dataset", "backbone", "method", "forget", "logger", "setting", "ablation", "experiment", "debug",
               "hydra/launcher", "hydra/sweeper")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def check(config: str, override: str | None, failures: list[str]) -> None:
    try:
        cfg = compose(config, overrides=[override] if override else [], return_hydra_config=True)
        job = {k: cfg[k] for k in cfg if k != "hydra"}  # hydra's own nodes resolve only inside a run
        OmegaConf.to_container(OmegaConf.create(job), resolve=True, throw_on_missing=False)
        if override and override.startswith("hydra/"):
            group = override.split("=")[0].split("/")[1]
            assert cfg.hydra[group]._target_, f"hydra.{group} has no _target_"
    except Exception as err:  # report every failure, not just the first
        failures.append(f"{config} {override}: {type(err).__name__}: {err}".splitlines()[0])


def main() -> int:
    setup()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    failures: list[str] = []
    composed = 0
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for config, groups in (("config", MAIN_GROUPS), ("pretrain", ())):
            check(config, None, failures)
            composed += 1
            for group in groups:
                for option in options(group):
                    check(config, f"{group}={option}", failures)
                    composed += 1
        for backbone in ("tiny_rn", "tiny_vit"):
            check("pretrain", f"backbone={backbone}", failures)
            composed += 1
    print(json.dumps({"composed": composed, "failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
