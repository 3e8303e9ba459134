"""scrub: the max (forget) step moves the student away from the teacher, the min step back."""

import itertools

import torch

from unlearn.loops import Optimiser, Teacher, trainable_and_head
from unlearn.methods.scrub import forget_terms, retain_terms


def test_forget_step_raises_and_retain_step_lowers_the_kl_to_the_teacher(method_ctx):
    ctx = method_ctx("scrub")
    teacher = Teacher(ctx)
    params, head = trainable_and_head(ctx)
    optimiser = Optimiser(ctx, params, lr=1e-4)
    forget = itertools.repeat(next(ctx.batches(ctx.task.forget_train, 16)))
    retain = itertools.repeat(next(ctx.batches(ctx.task.retain_train, 16)))

    def forget_kl():
        with torch.no_grad():
            return -forget_terms(ctx.model, head(), teacher, forget, ctx.cfg.temperature)["train/neg_forget_kl"]

    def retain_loss():
        with torch.no_grad():
            return sum(retain_terms(ctx.model, head(), teacher, retain, ctx.cfg).values())

    assert forget_kl() == 0  # the student starts as the teacher, where the KL's gradient vanishes
    optimiser.step(retain_terms(ctx.model, head(), teacher, retain, ctx.cfg))  # the cross-entropy moves it off
    kl = forget_kl()
    for _ in range(2):
        optimiser.step(forget_terms(ctx.model, head(), teacher, forget, ctx.cfg.temperature))
        assert forget_kl() > kl
        kl = forget_kl()
    before = retain_loss()
    optimiser.step(retain_terms(ctx.model, head(), teacher, retain, ctx.cfg))
    assert retain_loss() < before
