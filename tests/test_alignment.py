import pytest
import torch

from tests.conftest import compose_config
from unlearn.alignment import aligned_copies, batchnorm_gap, batchnorm_layers
from unlearn.errors import UnlearnError
from unlearn.models.backbones import build_backbone
from unlearn.models.factory import create_random


def test_batchnorm_alignment_lowers_the_statistics_gap_within_budget():
    # the pretrained tiny_rn: its BatchNorm layers hold the statistics of its pretraining data
    tower = build_backbone(compose_config().backbone)[0].visual
    weights = {k: v.clone() for k, v in tower.state_dict().items()}
    images = 0.5 * torch.randn(32, 3, 32, 32, generator=torch.Generator().manual_seed(1)) + 0.8  # shifted data
    aligned = aligned_copies(tower, images, steps=15, lr=0.1, eps=0.5, batch_size=16, fallback="skip",
                             generator=torch.Generator())
    with torch.no_grad():
        before, after = batchnorm_gap(tower, images), batchnorm_gap(tower, aligned)
    assert after < 0.7 * before
    assert (aligned - images).abs().max() <= 0.5 + 1e-6
    assert all(torch.equal(v, tower.state_dict()[k]) for k, v in weights.items())  # tower untouched
    assert not tower.training


def test_vit_fallbacks():
    tower = create_random("TinyViT").visual
    assert not batchnorm_layers(tower)
    images = torch.zeros(4, 3, 32, 32)
    args = dict(steps=5, lr=0.1, eps=0.25, batch_size=4, generator=torch.Generator().manual_seed(0))
    assert aligned_copies(tower, images, fallback="skip", **args) is None
    noisy = aligned_copies(tower, images, fallback="noise", **args)
    assert noisy.shape == images.shape and 0 < noisy.abs().max() <= 0.25
    with pytest.raises(UnlearnError, match="needs a tower with BatchNorm"):
        batchnorm_gap(tower, images)
