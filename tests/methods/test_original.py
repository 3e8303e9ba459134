"""original: the reference row changes nothing."""

import torch

from tests.methods.helpers import changed, weights
from unlearn.evaluation import Evaluator
from unlearn.methods import METHODS


def test_original_leaves_weights_and_every_metric_unchanged(method_ctx, debug_benchmark):
    _, tokenizer, bench, task = debug_benchmark
    ctx = method_ctx("original")
    evaluate = Evaluator(bench, task, tokenizer, torch.device("cpu"), batch_size=256)
    before_weights, (before, _) = weights(ctx.model), evaluate(ctx.model)
    METHODS.get("original").run(ctx)
    assert not changed(before_weights, weights(ctx.model))
    assert evaluate(ctx.model)[0] == before
