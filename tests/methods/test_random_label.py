"""random_label: forget images are fitted to a random other class, retain images to their own."""

import itertools

import torch

from unlearn.loops import batch_ce, random_other_labels, relabel_terms, trainable_and_head
from unlearn.losses import zeroshot_ce


def test_forget_term_fits_random_other_classes_and_retain_term_is_weighted(method_ctx):
    ctx = method_ctx("random_label")
    _, head = trainable_and_head(ctx)
    images, labels = next(ctx.batches(ctx.task.forget_train, 16))
    retain = itertools.repeat(next(ctx.batches(ctx.task.retain_train, 16)))
    with torch.no_grad():
        emb = head()
        terms = relabel_terms(ctx.model, head, iter([(images, labels)]), retain, 0.25, torch.Generator().manual_seed(3))
        targets = random_other_labels(labels, emb.shape[0], torch.Generator().manual_seed(3))
        assert not (targets == labels).any()
        assert torch.allclose(terms["train/forget_relabel_ce"], zeroshot_ce(ctx.model, images, targets, emb))
        assert torch.allclose(terms["train/retain_ce"], 0.25 * batch_ce(ctx.model, emb, retain))
    no_retain = relabel_terms(ctx.model, head, iter([(images, labels)]), retain, 0.0, torch.Generator())
    assert set(no_retain) == {"train/forget_relabel_ce"}
