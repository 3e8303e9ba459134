"""The shared training pieces: relabelling, the masked optimisation step, the loop."""

from types import SimpleNamespace

import torch

from unlearn.loops import Optimiser, random_other_labels


class StepCounter:
    """The slice of a method context the optimiser uses."""

    def __init__(self, max_steps=None):
        self.cfg = SimpleNamespace(max_steps=max_steps, name="test")
        self.logged = []

    def steps(self, n):
        return n if self.cfg.max_steps is None else min(n, self.cfg.max_steps)

    def log(self, metrics):
        self.logged.append(metrics)


def test_random_labels_are_never_the_true_class_and_cover_the_others():
    labels = torch.arange(4).repeat(500)
    drawn = random_other_labels(labels, 4, torch.Generator().manual_seed(0))
    assert not (drawn == labels).any()
    for c in range(4):
        assert set(drawn[labels == c].tolist()) == set(range(4)) - {c}
    assert torch.equal(drawn, random_other_labels(labels, 4, torch.Generator().manual_seed(0)))


def test_masked_step_moves_only_masked_weights():
    w = torch.nn.Parameter(torch.ones(3, 4))
    mask = torch.zeros(3, 4)
    mask[0, 1] = mask[2, 3] = 1
    opt = Optimiser(StepCounter(), [w], lr=0.1, grad_masks={w: mask})
    for _ in range(3):
        opt.step({"loss": (w * torch.arange(12.0).view(3, 4)).sum()})
    moved = w.detach() != 1
    assert torch.equal(moved, mask.bool())


def test_loop_sums_terms_logs_each_and_respects_the_step_cap():
    w = torch.nn.Parameter(torch.tensor(0.0))
    ctx = StepCounter(max_steps=2)
    Optimiser(ctx, [w], lr=0.5).run(10, lambda: {"a": 2 * w, "b": -w.detach() + 1.0})
    assert len(ctx.logged) == 2 and set(ctx.logged[0]) == {"a", "b"}
    assert w.item() < 0  # descends the sum: d(2w)/dw > 0


def test_loop_stops_after_the_step_at_which_stop_holds():
    w = torch.nn.Parameter(torch.tensor(0.0))
    ctx = StepCounter()
    taken = Optimiser(ctx, [w], lr=0.5).run(10, lambda: {"a": w}, stop=lambda: len(ctx.logged) == 3)
    assert taken == 3 and len(ctx.logged) == 3
    assert Optimiser(StepCounter(max_steps=4), [w], lr=0.5).run(10, lambda: {"a": w}) == 4
