"""What a method receives: the model to edit and everything around it."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from unlearn.cost import phase
from unlearn.runtime import seed_everything
from unlearn.data.base import Benchmark
from unlearn.data.tasks import UnlearningTask
from unlearn.rundir import ARTIFACTS_DIR


@dataclass
class UnlearnContext:
    model: torch.nn.Module  # edited in place, on `device`
    tokenizer: Callable
    bench: Benchmark
    task: UnlearningTask
    cfg: Any  # the method's config node
    device: torch.device
    seed: int
    logger: Any
    # evaluate(model) -> (metrics, per-class accuracy); used for per-stage metrics
    evaluate: Callable
    run_dir: Path | None = None  # the run folder; None outside a run
    backbone: Any = None  # the run's backbone config (for a method that rebuilds the model: retrain)
    forget: Any = None  # the forget spec (name, kind, classes, attributes)
    stage_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    summaries: dict[str, Any] = field(default_factory=dict)  # what the method reported with summary()
    _step: int = 0

    @cached_property
    def original(self) -> torch.nn.Module:
        """A frozen copy of the model as it was before unlearning (teacher, souping anchor)."""
        frozen = copy.deepcopy(self.model).eval()
        for p in frozen.parameters():
            p.requires_grad_(False)
        return frozen

    @property
    def kept_classes(self) -> list[int]:
        """The class indices outside the forget spec's classes and the whole classes earlier
        deletion requests forgot, in order."""
        forget = {*self.task.forget_classes, *self.task.forgotten_classes}
        return [c for c in range(len(self.bench.classnames)) if c not in forget]

    def steps(self, n: int) -> int:
        """A loop's step count, capped by method.max_steps (the debug preset sets it)."""
        cap = self.cfg.max_steps
        return n if cap is None else min(n, cap)

    def log(self, metrics: dict[str, float]) -> None:
        """Per-step training metrics; the global step counts every call."""
        self.logger.log(metrics, step=self._step)
        self._step += 1

    def summary(self, values: dict[str, Any]) -> None:
        """Facts about the run as a whole (steps taken, a chosen coefficient): into metrics.json's
        `summary` and the logger's summary, whatever the logger."""
        self.summaries |= values
        self.logger.summary(values)

    def artifact(self, name: str) -> Path | None:
        """A path for one of the method's own files (a plot, a curve) in the run folder's
        `artifacts/`, which the run-folder contract keeps with the results; None outside a run."""
        if self.run_dir is None:
            return None
        path = self.run_dir / ARTIFACTS_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def log_stage(self, stage: str, model: torch.nn.Module | None = None) -> dict[str, float]:
        """Evaluate an intermediate model state and keep it in metrics.json under `stages`."""
        with phase(f"{stage}_eval"):
            metrics, _ = self.evaluate(model if model is not None else self.model)
        self.stage_metrics[stage] = metrics
        self.logger.log({f"stage/{stage}/{k}": v for k, v in metrics.items()}, step=self._step)
        return metrics

    def batches(self, images, batch_size: int, seed_offset: int = 0) -> Iterator:
        """Endless shuffled (images, labels) batches on the device, deterministic in the run seed."""
        epoch = 0
        while True:
            for x, y in images.loader(batch_size, shuffle=True, seed=self.seed + seed_offset + epoch,
                                      pin_memory=self.device.type == "cuda"):
                yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            epoch += 1


def unlearn_timed(run_method: Callable[[UnlearnContext], None], ctx: UnlearnContext) -> float:
    """Run a method on its context, seeded by the run seed, under the cost phase `unlearn`; its
    wall seconds (CUDA synchronised)."""
    seed_everything(ctx.seed)
    start = time.perf_counter()
    with phase("unlearn"):
        run_method(ctx)
        if ctx.device.type == "cuda":
            torch.cuda.synchronize()
    return time.perf_counter() - start
