"""NegGrad+: gradient descent on the retain set and ascent on the forget set, weighted
(Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023):
minimise β·L(retain) − (1 − β)·L(forget), L the zero-shot cross-entropy.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.config.ranges import fraction
from unlearn.config.schema import LoopConfig
from unlearn.errors import UnlearnError
from unlearn.loops import Optimiser, Terms, batch_ce, trainable_and_head
from unlearn.methods import METHODS


@dataclass
class NegGradPlusConfig(LoopConfig):
    beta: float = fraction(0.5)  # weight of the retain term; the forget term gets 1 − beta


def neggrad_plus_terms(model, class_emb, forget, retain, beta: float) -> Terms:
    return {"train/retain_ce": beta * batch_ce(model, class_emb, retain),
            "train/neg_forget_ce": -(1 - beta) * batch_ce(model, class_emb, forget)}


@METHODS.register("neggrad_plus", NegGradPlusConfig, rank=30)
def neggrad_plus(ctx) -> None:
    cfg, model = ctx.cfg, ctx.model
    if not 0 <= cfg.beta <= 1:
        raise UnlearnError(f"method.beta={cfg.beta} is outside [0, 1]; valid: a retain weight in [0, 1]")
    params, head = trainable_and_head(ctx)
    forget = ctx.batches(ctx.task.forget_train, cfg.batch_size)
    retain = ctx.batches(ctx.task.retain_train, cfg.batch_size, seed_offset=1)
    Optimiser(ctx, params, cfg.lr).run(cfg.steps, lambda: neggrad_plus_terms(model, head(), forget, retain, cfg.beta))
