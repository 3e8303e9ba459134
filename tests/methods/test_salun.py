"""salun: the saliency mask keeps the top fraction, and only masked weights change."""

import pytest
import torch

from tests.methods.helpers import weights
from unlearn.errors import UnlearnError
from unlearn.loops import trainable_and_head
from unlearn.methods import METHODS
from unlearn.methods.salun import saliency, top_fraction_mask


def test_top_fraction_mask_ranks_across_tensors():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2, 2))
    masks = top_fraction_mask({a: torch.tensor([5.0, 0.1]), b: torch.tensor([[4.0, 0.2], [0.3, 3.0]])}, 0.5)
    assert masks[a].tolist() == [1, 0] and masks[b].tolist() == [[1, 0], [0, 1]]


def test_only_salient_weights_change(method_ctx):
    ctx = method_ctx("salun", mask_ratio=0.1, lr=1e-3)
    params, head = trainable_and_head(ctx)
    masks = top_fraction_mask(saliency(ctx, params, head), 0.1)  # the same deterministic map the method computes
    before = {id(p): p.detach().clone() for p in params}
    all_before = weights(ctx.model)
    METHODS.get("salun").run(ctx)
    kept = sum(m.sum() for m in masks.values()) / sum(m.numel() for m in masks.values())
    assert abs(kept.item() - 0.1) < 1e-3
    moved = 0
    for p in params:
        change = p.detach() != before[id(p)]
        assert not (change & (masks[p] == 0)).any()
        moved += change.sum().item()
    assert moved > 0
    text = [k for k in all_before if not k.startswith("visual.")]  # towers=image: the text tower is frozen
    assert all(torch.equal(all_before[k], ctx.model.state_dict()[k]) for k in text)


def test_mask_ratio_outside_unit_interval_is_rejected(method_ctx):
    with pytest.raises(UnlearnError, match=r"method.mask_ratio=0.0 is outside \(0, 1\]"):
        METHODS.get("salun").run(method_ctx("salun", mask_ratio=0.0))
