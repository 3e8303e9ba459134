import pytest
import torch

from tests.conftest import compose_config
from unlearn.alignment import align_to_batchnorm, batchnorm_gap, batchnorm_layers, invert_to_classes, noisy_copies
from unlearn.data import build_benchmark
from unlearn.data.tasks import build_task
from unlearn.errors import UnlearnError
from unlearn.models.backbones import build_backbone
from unlearn.models.factory import create_random
from unlearn.zeroshot import chunked_class_embeddings, zeroshot_logits


def test_batchnorm_alignment_lowers_the_statistics_gap_within_budget():
    # the pretrained tiny_rn: its BatchNorm layers hold the statistics of its pretraining data
    tower = build_backbone(compose_config().backbone)[0].visual
    weights = {k: v.clone() for k, v in tower.state_dict().items()}
    images = 0.5 * torch.randn(32, 3, 32, 32, generator=torch.Generator().manual_seed(1)) + 0.8  # shifted data
    aligned = align_to_batchnorm(tower, images, steps=15, lr=0.1, eps=0.5, batch_size=16)
    with torch.no_grad():
        before, after = batchnorm_gap(tower, images), batchnorm_gap(tower, aligned)
    assert after < 0.7 * before
    assert (aligned - images).abs().max() <= 0.5 + 1e-6
    assert all(torch.equal(v, tower.state_dict()[k]) for k, v in weights.items())  # tower untouched
    assert all(p.grad is None for p in tower.parameters())
    assert not tower.training


def test_noise_fallback_stays_within_budget():
    images = torch.zeros(4, 3, 32, 32)
    noisy = noisy_copies(images, eps=0.25, generator=torch.Generator().manual_seed(0))
    assert noisy.shape == images.shape and 0 < noisy.abs().max() <= 0.25
    with pytest.raises(UnlearnError, match="needs a tower with BatchNorm"):
        batchnorm_gap(create_random("TinyViT").visual, images)


def test_inversion_fallback_makes_the_original_name_the_target_classes():
    # the pretrained tiny_vit (no BatchNorm): retain-like images of one class, pushed to the others
    cfg = compose_config("backbone=tiny_vit")
    model, tokenizer = build_backbone(cfg.backbone)
    assert not batchnorm_layers(model.visual)
    bench = build_benchmark(cfg.dataset, transform=None)
    task = build_task(bench, cfg.forget, cfg.task, cfg.seed)
    images = task.retain_train.tensors(32)[0][:32]
    with torch.no_grad():
        class_emb = chunked_class_embeddings(model, tokenizer, bench.classnames, bench.loss_templates,
                                             torch.device("cpu"))

    def logits(x):
        return zeroshot_logits(model, x, class_emb)

    own = torch.as_tensor(task.retain_train.labels[:32])
    targets = (own + 1 + torch.arange(32) % (len(bench.classnames) - 1)) % len(bench.classnames)  # never their own
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    copies = invert_to_classes(logits, images, targets, steps=20, lr=0.1, eps=0.5, batch_size=16)
    with torch.no_grad():
        before, after = logits(images).argmax(1), logits(copies).argmax(1)
    assert (before == own).float().mean() > 0.9
    assert (after == targets).float().mean() > 0.8
    assert (copies - images).abs().max() <= 0.5 + 1e-6
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())
    assert all(p.grad is None for p in model.parameters())
