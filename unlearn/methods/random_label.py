"""Random label (RL): fine-tune the forget images toward a random *other* class prompt, while the
retain images keep their own class (Graves et al., "Amnesiac Machine Learning", AAAI 2021; the
RL baseline of SalUn). Labels are zero-shot text logits over the dataset's class prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.config.ranges import at_least
from unlearn.config.schema import LoopConfig
from unlearn.loops import Optimiser, label_generator, relabel_terms, trainable_and_head
from unlearn.methods import METHODS


@dataclass
class RandomLabelConfig(LoopConfig):
    retain_weight: float = at_least(0, 1.0)  # weight of the retain images' own-class loss; 0: forget images only
    # 120 (the loop's 60 elsewhere; SalUn inherits it): at 60, tiny_vit's pretrained models 1-2 keep
    # 41-64 % of a forgotten circle (SalUn; random label up to 56 %), short of halving it
    steps: int = at_least(1, 120)


@METHODS.register("random_label", RandomLabelConfig, rank=40)
def random_label(ctx) -> None:
    cfg, model = ctx.cfg, ctx.model
    params, head = trainable_and_head(ctx)
    forget = ctx.batches(ctx.task.forget_train, cfg.batch_size)
    retain = ctx.batches(ctx.task.retain_train, cfg.batch_size, seed_offset=1)
    generator = label_generator(ctx)
    Optimiser(ctx, params, cfg.lr).run(
        cfg.steps, lambda: relabel_terms(model, head, forget, retain, cfg.retain_weight, generator))
