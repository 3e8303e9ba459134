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
                               generator=torch.Generator().manual_seed(0), chunk=4)
        with torch.no_grad():
            return zeroshot_ce(ctx.model, noise, labels, emb)

    assert loss_after(maximise=True) > start > loss_after(maximise=False)
    assert not changed(before, weights(ctx.model))
    assert all(p.grad is None for p in ctx.model.parameters())


def test_noise_optimised_in_chunks_is_the_noise_of_one_batch(method_ctx):
    """Each image's gradient does not depend on the chunking (the objective is the mean over all
    images; BatchNorm is frozen in eval): chunks of 3 reproduce one batch of 8. Not bit for bit:
    the forward pass rounds differently per batch size, and Adam's normalisation turns that into
    up to a tenth of a step where a gradient is near zero."""
    ctx = method_ctx("emmn")
    ctx.model.eval()
    _, head = trainable_and_head(ctx)
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    with torch.no_grad():
        emb = head()

    def noise(chunk: int) -> torch.Tensor:
        return optimise_noise(ctx.model, emb, labels, input_shape(ctx.model), False, steps=5, lr=0.1, l2=0.1,
                              generator=torch.Generator().manual_seed(0), chunk=chunk)

    one_batch, chunked = noise(8), noise(3)
    gap = (chunked - one_batch).abs()
    assert gap.max() < 0.1 * 0.1 and (gap < 1e-4).float().mean() > 0.95  # lr 0.1
    start = torch.randn((8, *input_shape(ctx.model)), generator=torch.Generator().manual_seed(0))
    assert (one_batch - start).abs().max() > 0.1  # the noise moved: the comparison is not trivial
