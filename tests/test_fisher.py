import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from unlearn.data.base import ImageSet
from unlearn.errors import UnlearnError
from unlearn.fisher import block_fisher, model_blocks, relative_fisher, select_blocks
from unlearn.models.anatomy import block_of
from unlearn.models.factory import create_random


class TwoPathTower(nn.Module):
    """A toy image tower with a shared path (reads every image) and a forget-only path (reads
    the "red" input dims, which only forget images use)."""

    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Linear(2, 3, bias=False))  # shared: dims 0-1
        self.layer2 = nn.Sequential(nn.Linear(2, 3, bias=False))  # forget-only: dims 2-3
        with torch.no_grad():
            self.layer1[0].weight.mul_(5.0)  # the shared path dominates the features


class ToyClip(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.visual = TwoPathTower()

    def encode_image(self, x, normalize=False):
        features = self.visual.layer1(x[:, :2]) + self.visual.layer2(x[:, 2:])
        return F.normalize(features, dim=-1) if normalize else features


def _images(x: torch.Tensor) -> ImageSet:
    labels = torch.zeros(len(x), dtype=torch.long)
    return ImageSet(TensorDataset(x, labels), labels.numpy())


def test_relative_fisher_ranks_forget_only_layer_above_shared_layer():
    model = ToyClip()
    generator = torch.Generator().manual_seed(1)
    shared = torch.randn(16, 2, generator=generator)
    forget = _images(torch.cat([shared, 0.5 * torch.randn(16, 2, generator=generator)], 1))  # red dims on
    retain = _images(torch.cat([shared.flip(0), torch.zeros(16, 2)], 1))  # red dims off
    class_emb = F.normalize(torch.randn(1, 3, generator=generator), dim=-1)
    blocks = model_blocks(model, "image")
    assert blocks == {"visual.layer1.0": ["visual.layer1.0.weight"], "visual.layer2.0": ["visual.layer2.0.weight"]}

    def fisher(images):
        return block_fisher(model, blocks, images, lambda: class_emb, 16, torch.device("cpu"))

    plain, on_retain = fisher(forget), fisher(retain)
    assert on_retain["visual.layer2.0"] == 0  # retain images never touch the forget-only path
    assert plain["visual.layer1.0"] > plain["visual.layer2.0"]  # plain Fisher prefers the shared layer
    relative = relative_fisher(plain, on_retain)
    assert select_blocks(relative, "topk", 1, 0.5) == ["visual.layer2.0"]
    assert all(p.requires_grad for p in model.parameters())  # flags restored
    assert all(p.grad is None for p in model.parameters())


def test_blocks_of_both_towers_cover_every_parameter_but_logit_scale():
    for arch, expected in (("TinyRN", {"visual.stem", "visual.layer1.0", "visual.layer4.0", "visual.attnpool"}),
                           ("TinyViT", {"visual.stem", "visual.transformer.resblocks.3", "visual.head"})):
        model = create_random(arch)
        blocks = model_blocks(model, "both")
        assert expected | {"text.stem", "transformer.resblocks.1", "text.head"} <= set(blocks)
        covered = {name for names in blocks.values() for name in names}
        assert covered == {n for n, _ in model.named_parameters()} - {"logit_scale"}
        assert all(b.startswith("visual") for b in model_blocks(model, "image"))
    assert block_of("logit_scale") is None
    assert block_of("text_projection") == "text.head"
    assert block_of("visual.attnpool.c_proj.weight") == "visual.attnpool"


def test_select_blocks_modes():
    scores = {"a": 1.0, "b": 4.0, "c": 2.5, "d": 0.5}
    assert select_blocks(scores, "topk", 2, 0.5) == ["b", "c"]
    assert select_blocks(scores, "threshold", 2, 0.5) == ["b", "c"]
    assert select_blocks(scores, "threshold", 2, 0.2) == ["b", "c", "a"]
    with pytest.raises(UnlearnError, match="top_k must be >= 1"):
        select_blocks(scores, "topk", 0, 0.5)
