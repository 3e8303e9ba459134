"""`relearn`: a relearning attack. A copy of the model is fine-tuned (every weight, Adam, fixed lr,
the zero-shot loss with the training prompts) on one fixed batch: `images` forget training images
mixed with `others` images of other classes (so it cannot simply collapse onto the forget class).
After each k in `steps` it records forget and others test accuracy; `relearn/mean/forget/acc` is
the mean forget accuracy over those k (the relearning curve's area, one number that averages a
single trajectory's step-to-step noise), and `steps_to_half` is the first k at which forget accuracy
is back to at least half of the original model's (null: never).
Forgetting that comes back within a few steps is shallow. BatchNorm keeps its statistics (eval mode).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from unlearn.config.ranges import at_least, positive, ranged
from unlearn.config.schema import MetricConfig
from unlearn.data.tasks import spec_masks
from unlearn.loops import ClassHead
from unlearn.losses import zeroshot_ce
from unlearn.metrics import METRICS
from unlearn.metrics.base import accuracy, features, head, images_and_labels
from unlearn.metrics.relearn_curve import curve_mean


@dataclass
class RelearnConfig(MetricConfig):
    images: int = at_least(1, 8)  # forget training images in the batch (n)
    others: int = at_least(0, 8)  # images of other classes mixed in
    lr: float = positive(1e-4)
    steps: list[int] = ranged(default_factory=lambda: [1, 3, 10, 30], low=1)  # where accuracy is recorded
    eval_images: int = at_least(1, 256)  # test images per part (forget, others) measured at each k


@METRICS.register("relearn", RelearnConfig)
def relearn(mctx, model, cfg) -> dict[str, float | None]:
    attacked = copy.deepcopy(model).eval()
    params = list(attacked.parameters())
    for p in params:
        p.requires_grad_(True)
    images, labels = attack_batch(mctx, cfg)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    parts = {part: mctx.test_part(part, cfg.eval_images, stream=2) for part in ("forget", "others")}
    out: dict[str, float | None] = {}
    train_head = ClassHead(attacked, mctx.tokenizer, mctx.bench.classnames, mctx.bench.loss_templates, mctx.device,
                           text_trains=True)
    for step in range(1, max(cfg.steps) + 1):
        loss = zeroshot_ce(attacked, images, labels, train_head())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step in cfg.steps:
            emb = head(attacked, mctx, mctx.bench.templates)
            for part, test in parts.items():
                out[f"relearn/{step}/{part}/acc"] = accuracy(features(attacked, test, mctx) @ emb.T, test.labels)
    out["relearn/mean/forget/acc"] = curve_mean(out)
    out["relearn/steps_to_half"] = steps_to_half(out, sorted(cfg.steps), mctx.before["forget/acc"])
    return out


def attack_batch(mctx, cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed batch: `images` forget training images and `others` training images of other classes."""
    rng = mctx.rng(stream=1)
    forget = mctx.task.forget_train
    sets = [forget.subset(np.sort(rng.permutation(len(forget))[:cfg.images]))]
    _, _, others = spec_masks(mctx.bench, mctx.forget, mctx.bench.train)
    pool = np.flatnonzero(others)
    if cfg.others and len(pool):
        sets.append(mctx.bench.train.subset(np.sort(rng.choice(pool, size=min(cfg.others, len(pool)), replace=False))))
    batches = [images_and_labels(images, mctx) for images in sets]
    return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])


def steps_to_half(out: dict, steps: list[int], before_forget: float) -> int | None:
    """The first recorded k whose forget accuracy is at least half of the original model's."""
    for k in steps:
        acc = out.get(f"relearn/{k}/forget/acc")
        if acc is not None and acc >= 0.5 * before_forget:
            return k
    return None
