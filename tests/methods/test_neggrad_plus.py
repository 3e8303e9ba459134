"""neggrad_plus: beta weights the retain descent, 1 - beta the forget ascent."""

import itertools

import pytest
import torch

from unlearn.errors import UnlearnError
from unlearn.loops import batch_ce, trainable_and_head
from unlearn.methods import METHODS
from unlearn.methods.neggrad_plus import neggrad_plus_terms


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_both_terms_weighted_by_beta(method_ctx, beta):
    ctx = method_ctx("neggrad_plus")
    _, head = trainable_and_head(ctx)
    forget = itertools.repeat(next(ctx.batches(ctx.task.forget_train, 8)))
    retain = itertools.repeat(next(ctx.batches(ctx.task.retain_train, 8)))
    with torch.no_grad():
        emb = head()
        terms = neggrad_plus_terms(ctx.model, emb, forget, retain, beta)
        ce_f, ce_r = batch_ce(ctx.model, emb, forget), batch_ce(ctx.model, emb, retain)
    assert ce_f > 0 and ce_r > 0
    assert torch.allclose(terms["train/retain_ce"], beta * ce_r)
    assert torch.allclose(terms["train/neg_forget_ce"], -(1 - beta) * ce_f)


def test_beta_outside_unit_interval_is_rejected(method_ctx):
    with pytest.raises(UnlearnError, match=r"method.beta=1.5 is outside \[0, 1\]"):
        METHODS.get("neggrad_plus").run(method_ctx("neggrad_plus", beta=1.5))
