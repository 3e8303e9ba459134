"""emmn: error-maximising noise raises its class's loss, error-minimising noise lowers it (that it
reads no training image: test_baselines.py)."""

import torch

from tests.methods.helpers import changed, weights
from unlearn.loops import trainable_and_head
from unlearn.losses import zeroshot_ce
from unlearn.methods.emmn import optimise_noise
from unlearn.models.anatomy import input_shape


def test_noise_raises_or_lowers_the_loss_and_leaves_the_model(method_ctx):
    ctx = method_ctx("emmn")
    _, head = trainable_and_head(ctx)
    labels = torch.tensor([0, 0, 3, 3])
    shape = input_shape(ctx.model)
    before = weights(ctx.model)
    with torch.no_grad():
        emb = head()
        start = zeroshot_ce(ctx.model, torch.randn((4, *shape), generator=torch.Generator().manual_seed(0)), labels, emb)

    def loss_after(maximise: bool) -> torch.Tensor:
        noise = optimise_noise(ctx.model, emb, labels, shape, maximise, steps=5, lr=0.1, l2=0.0,
                               generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            return zeroshot_ce(ctx.model, noise, labels, emb)

    assert loss_after(maximise=True) > start > loss_after(maximise=False)
    assert not changed(before, weights(ctx.model))
    assert all(p.grad is None for p in ctx.model.parameters())
