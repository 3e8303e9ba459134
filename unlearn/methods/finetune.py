"""Fine-tune (FT): train on the retain set only and let catastrophic forgetting erase the rest.

The forget set is never read; whatever is forgotten is forgotten by drifting away from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.config.ranges import at_least, positive
from unlearn.config.schema import LoopConfig
from unlearn.loops import Optimiser, batch_ce, trainable_and_head
from unlearn.methods import METHODS


@dataclass
class FinetuneConfig(LoopConfig):
    lr: float = positive(1e-4)
    steps: int = at_least(1, 100)


@METHODS.register("finetune", FinetuneConfig, rank=10)
def finetune(ctx) -> None:
    cfg, model = ctx.cfg, ctx.model
    params, head = trainable_and_head(ctx)
    retain = ctx.batches(ctx.task.retain_train, cfg.batch_size)
    Optimiser(ctx, params, cfg.lr).run(cfg.steps, lambda: {"train/retain_ce": batch_ce(model, head(), retain)})
