"""EMMN: zero-shot unlearning with error-maximising and error-minimising noise
(Chundawat, Tarun, Mandal, Kankanhalli, "Zero-Shot Machine Unlearning", IEEE TIFS 2023).

No training data is used. Noise images are optimised in image space against the model's
zero-shot head (class prompts, training templates): for each forget class, noise that
*maximises* the loss of that class (error-maximising); for every other class, noise that
*minimises* the loss of its class (error-minimising, a stand-in for retain data). Both carry an
L2 penalty on the noise. Impair: a short high-learning-rate fine-tune on both noises with their
classes as labels. Repair: a fine-tune on the error-minimising noise only.

The noise is class-level: with a subgroup forget spec it targets the whole forget class.

Default `towers=text` (our choice): in the original the impair step's large gradients wreck the
forget class's weights in the classifier head; CLIP's analogue of those weights is the class
prompt's text embedding. With the image tower training instead, learning "noise → forget class"
pulls the images of every other class toward it on this benchmark, and the forget class stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import ConcatDataset, TensorDataset

from unlearn.config.ranges import at_least, positive
from unlearn.config.schema import MethodConfig, Towers
from unlearn.data.base import ImageSet
from unlearn.loops import Optimiser, batch_ce, trainable_and_head
from unlearn.losses import zeroshot_ce
from unlearn.methods import METHODS
from unlearn.models.anatomy import input_shape
from unlearn.progress import progress


@dataclass
class EmmnConfig(MethodConfig):
    towers: Towers = Towers.text
    noise_per_class: int = at_least(1, 16)
    noise_steps: int = at_least(1, 50)
    noise_lr: float = positive(0.1)
    noise_l2: float = at_least(0, 0.1)  # weight of the noise's mean square in its objective
    impair_lr: float = positive(2e-3)
    impair_steps: int = at_least(1, 15)
    repair_lr: float = positive(1e-5)
    repair_steps: int = at_least(0, 20)
    batch_size: int = at_least(1, 64)
    # noise images optimised together: memory holds one chunk's activations (ImageNet: 999 × 16
    # error-minimising images would not fit one batch: ~1.6 TB for RN50 at 224 px; 256 of them
    # ~20 GB); chunking leaves each image's gradient as is. The embedded world's 160 are one chunk
    noise_chunk: int = at_least(1, 256)


def optimise_noise(model, class_emb: torch.Tensor, labels: torch.Tensor, image_shape: tuple[int, ...], maximise: bool,
                   steps: int, lr: float, l2: float, generator: torch.Generator, chunk: int) -> torch.Tensor:
    """Noise images (one per label, on the CPU) that raise (maximise=True) or lower the zero-shot
    loss of their label, minus/plus an L2 penalty; the model is left untouched. The objective is
    the mean over all images; `chunk` images are optimised at a time, each chunk's share of that
    mean scaled by its size, so every image gets the gradient it would get in one batch."""
    sign = -1.0 if maximise else 1.0
    done = []
    for start in range(0, len(labels), chunk):
        part = labels[start:start + chunk]
        share = len(part) / len(labels)  # 1.0 with one chunk: the single-batch objective exactly
        noise = torch.randn((len(part), *image_shape), generator=generator).to(labels.device).requires_grad_(True)
        opt = torch.optim.Adam([noise], lr=lr)
        for _ in progress(range(steps), "emmn noise", unit="step"):
            loss = share * (sign * zeroshot_ce(model, noise, part, class_emb) + l2 * noise.pow(2).mean())
            noise.grad, = torch.autograd.grad(loss, noise)
            opt.step()
        done.append(noise.detach().cpu())
    return torch.cat(done)


def noise_set(noise: torch.Tensor, labels: torch.Tensor) -> ImageSet:
    return ImageSet(TensorDataset(noise.cpu(), labels.cpu()), labels.cpu().numpy())


def concat_sets(a: ImageSet, b: ImageSet) -> ImageSet:
    return ImageSet(ConcatDataset([a.dataset, b.dataset]), np.concatenate([a.labels, b.labels]))


@METHODS.register("emmn", EmmnConfig, rank=70, forgets="whole_classes")
def emmn(ctx) -> None:
    cfg, model = ctx.cfg, ctx.model
    params, head = trainable_and_head(ctx)
    image_shape = input_shape(model)
    generator = torch.Generator().manual_seed(ctx.seed)

    def noise_for(classes: list[int], maximise: bool) -> ImageSet:
        labels = torch.tensor(classes, device=ctx.device).repeat_interleave(cfg.noise_per_class)
        with torch.no_grad():
            emb = head()
        noise = optimise_noise(model, emb, labels, image_shape, maximise, ctx.steps(cfg.noise_steps), cfg.noise_lr,
                               cfg.noise_l2, generator, cfg.noise_chunk)
        return noise_set(noise, labels)

    maximising = noise_for(sorted(ctx.task.forget_classes), maximise=True)
    minimising = noise_for(ctx.kept_classes, maximise=False)

    impair = ctx.batches(concat_sets(maximising, minimising), cfg.batch_size)
    Optimiser(ctx, params, cfg.impair_lr).run(cfg.impair_steps, lambda: {"train/impair_ce": batch_ce(model, head(), impair)})
    repair = ctx.batches(minimising, cfg.batch_size, seed_offset=1)
    Optimiser(ctx, params, cfg.repair_lr).run(cfg.repair_steps, lambda: {"train/repair_ce": batch_ce(model, head(), repair)})

