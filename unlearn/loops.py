"""Training pieces the fine-tuning methods share: what trains, the optimisation step and loop,
the zero-shot loss terms they are built from, the distillation teacher, and random relabelling.

A method composes these; none keeps its own copy of a loss, loop or step.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from unlearn.config.schema import Towers
from unlearn.losses import zeroshot_ce
from unlearn.models.anatomy import in_towers
from unlearn.progress import progress
from unlearn.zeroshot import chunked_class_embeddings, zeroshot_logits

Terms = dict[str, torch.Tensor]  # named loss terms, already weighted; their sum is minimised
Batches = Iterator[tuple[torch.Tensor, torch.Tensor]]


def trainable_parameters(model: torch.nn.Module, towers: Towers) -> list[torch.nn.Parameter]:
    """Freeze everything except the chosen towers; return the parameters left trainable."""
    chosen = []
    for name, p in model.named_parameters():
        p.requires_grad_(in_towers(name, towers))
        if p.requires_grad:
            chosen.append(p)
    return chosen


class ClassHead:
    """Class text embeddings for training losses: computed once when the text tower is frozen,
    recomputed with gradients on every call when it trains, a chunk of classes at a time
    (zeroshot.chunked_class_embeddings: ImageNet's 1000 classes fit). `head(rows)` gives only
    those classes' rows, in that order: a loss that needs a few classes encodes only theirs
    when the whole head would take more than one chunk."""

    def __init__(self, model, tokenizer: Callable, classnames: list[str], templates: list[str],
                 device: torch.device, text_trains: bool):
        self.args = (model, tokenizer, classnames, templates, device)
        self._fixed = None
        if not text_trains:
            with torch.no_grad():
                self._fixed = chunked_class_embeddings(*self.args)

    def __call__(self, rows: list[int] | None = None) -> torch.Tensor:
        if self._fixed is not None:
            return self._fixed if rows is None else self._fixed[rows]
        return chunked_class_embeddings(*self.args, rows=rows)


def trainable_and_head(ctx) -> tuple[list[torch.nn.Parameter], ClassHead]:
    """The parameters of the method's `towers` (everything else frozen) and the class text head
    over the training prompts (recomputed with gradients when the text tower trains)."""
    params = trainable_parameters(ctx.model, ctx.cfg.towers)
    head = ClassHead(ctx.model, ctx.tokenizer, ctx.bench.classnames, ctx.bench.loss_templates, ctx.device,
                     text_trains=ctx.cfg.towers != Towers.image)
    return params, head


class Optimiser:
    """Adam over `params`; each step minimises the sum of named loss terms and logs every term.

    `grad_masks` (parameter -> 0/1 tensor of its shape) zero the gradient outside the mask before
    every step. With Adam and no weight decay a weight whose gradient is always zero never moves,
    so only masked weights change.
    """

    def __init__(self, ctx, params: list[torch.nn.Parameter], lr: float,
                 grad_masks: dict[torch.nn.Parameter, torch.Tensor] | None = None):
        self.ctx = ctx
        self.opt = torch.optim.Adam(params, lr=lr)
        self.grad_masks = grad_masks or {}

    def step(self, terms: Terms) -> None:
        loss = sum(terms.values())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        for p, mask in self.grad_masks.items():
            if p.grad is not None:
                p.grad.mul_(mask)
        self.opt.step()
        self.ctx.log({name: value.item() for name, value in terms.items()})

    def run(self, steps: int, terms: Callable[[], Terms], stop: Callable[[], bool] | None = None) -> int:
        """`steps` steps (capped by method.max_steps), each on freshly computed `terms()`; ends
        early after a step at which `stop()` holds. Returns the number of steps taken."""
        for taken in progress(range(1, self.ctx.steps(steps) + 1), self.ctx.cfg.name, unit="step"):
            self.step(terms())
            if stop is not None and stop():
                return taken
        return self.ctx.steps(steps)


class Teacher:
    """The frozen original with its own class texts (training prompts): the logits a student is
    distilled toward (SCRUB, three-stage reminding). Build it before the first edit of the model,
    which `ctx.original` snapshots."""

    def __init__(self, ctx):
        self.model = ctx.original
        with torch.no_grad():
            self.class_emb = chunked_class_embeddings(self.model, ctx.tokenizer, ctx.bench.classnames,
                                                      ctx.bench.loss_templates, ctx.device)

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return zeroshot_logits(self.model, images, self.class_emb)


def batch_ce(model, class_emb: torch.Tensor, batches: Batches) -> torch.Tensor:
    """Zero-shot cross-entropy of the next batch against its true labels."""
    images, labels = next(batches)
    return zeroshot_ce(model, images, labels, class_emb)


class BatchAccuracy:
    """Zero-shot cross-entropy of the next batch, remembering the batch's accuracy (measured
    before the step, at no extra cost): for loops that stop once the forget set is forgotten."""

    def __init__(self, model, batches: Batches):
        self.model, self.batches = model, batches
        self.last = float("nan")

    def ce(self, class_emb: torch.Tensor) -> torch.Tensor:
        images, labels = next(self.batches)
        logits = zeroshot_logits(self.model, images, class_emb)
        self.last = (logits.argmax(1) == labels).float().mean().item()
        return F.cross_entropy(logits, labels)


def random_other_labels(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random class for each label, never the label itself (shift by 1..C-1, mod C)."""
    shift = torch.randint(1, num_classes, labels.shape, generator=generator).to(labels.device)
    return (labels + shift) % num_classes


def relabel_terms(model, head: ClassHead, forget: Batches, retain: Batches, retain_weight: float,
                  generator: torch.Generator) -> Terms:
    """Random-label fine-tuning (Amnesiac ML; SalUn's RL): the forget images learn a random other
    class while the retain images keep their own (weighted by `retain_weight`; 0 drops the term)."""
    images, labels = next(forget)
    emb = head()
    terms = {"train/forget_relabel_ce": zeroshot_ce(model, images, random_other_labels(
        labels, emb.shape[0], generator), emb)}
    if retain_weight:
        terms["train/retain_ce"] = retain_weight * batch_ce(model, emb, retain)
    return terms


def label_generator(ctx) -> torch.Generator:
    """A CPU generator seeded by the run seed: random labels are the same on every device."""
    return torch.Generator().manual_seed(ctx.seed)
