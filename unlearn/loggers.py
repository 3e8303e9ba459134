"""Run loggers: Weights & Biases (offline by default, files under the run folder) or none."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from unlearn.config.schema import LoggerName

log = logging.getLogger(__name__)


class NullLogger:
    def log(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def table(self, name: str, columns: list[str], rows: list[list[Any]]) -> None:
        pass

    def summary(self, metrics: dict[str, Any]) -> None:
        pass

    def step_metric(self, key: str, pattern: str) -> None:
        """Metrics matching `pattern` are plotted against the logged value `key` (not the step)."""

    def image(self, name: str, path: Path) -> None:
        pass

    def finish(self, failed: bool = False) -> None:
        pass


class WandbLogger(NullLogger):
    def __init__(self, cfg, run_dir: Path, config: dict, name: str, group: str | None, job_type: str):
        import wandb

        self.wandb = wandb
        self.step = 0  # the framework's step: the largest passed to log() so far
        # cfg.mode defaults to $WANDB_MODE, else offline (LoggerConfig)
        os.environ["WANDB_MODE"] = str(cfg.mode)
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(
            project=cfg.project, entity=cfg.entity, dir=str(run_dir), config=config, name=name,
            group=cfg.group or group, job_type=cfg.job_type or job_type, tags=list(cfg.tags),
            mode=str(cfg.mode), reinit="finish_previous",
            settings=wandb.Settings(console="off", x_disable_stats=True),
        )

    def log(self, metrics, step=None):
        if step is not None:
            self.step = max(self.step, step)
        self.run.log(metrics, step=self.step if step is None else step)

    # Tables and images go into the current step's row: logged without a step, W&B would move its
    # own step past the framework's and drop every later log that names a smaller one.
    def table(self, name, columns, rows):
        self.run.log({name: self.wandb.Table(columns=columns, data=rows)}, step=self.step)

    def summary(self, metrics):
        self.run.summary.update(metrics)

    def step_metric(self, key, pattern):
        self.run.define_metric(key)
        self.run.define_metric(pattern, step_metric=key)

    def image(self, name, path):
        self.run.log({name: self.wandb.Image(str(path))}, step=self.step)

    def finish(self, failed=False):
        self.run.finish(exit_code=1 if failed else 0)


def build_logger(cfg, run_dir: Path, config: dict, name: str, group: str | None, job_type: str):
    if cfg.name == LoggerName.none:
        return NullLogger()
    return WandbLogger(cfg, run_dir, config, name, group, job_type)
