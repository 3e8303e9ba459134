"""Real open_clip backbones: configs, quick-gelu, offline failure, cached weights, transforms."""

import subprocess
import sys
import time

import open_clip
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from tests.conftest import DEBUG, ROOT, compose_config
from unlearn.errors import UnlearnError
from unlearn.models.backbones import build_backbone
from unlearn.models.factory import create_random, eval_transform
from unlearn.models.hub import cached_weights

# open_clip's published profile (docs/model_profile.csv): millions of parameters, total and image tower
PUBLISHED_MPARAMS = {"rn50": (102.01, 38.32), "rn101": (119.69, 56.26), "vit_b32": (151.28, 87.85),
                     "vit_b16": (149.62, 86.19), "vit_l14": (427.62, 303.97)}


def _mparams(model, prefix: str = "") -> float:
    return round(sum(p.numel() for n, p in model.named_parameters() if n.startswith(prefix)) / 1e6, 2)


def _check_random_build(name: str) -> None:
    cfg = compose_config(f"backbone={name}", "backbone.pretrained=null").backbone
    model, tokenizer = build_backbone(cfg)
    assert (_mparams(model), _mparams(model, "visual.")) == PUBLISHED_MPARAMS[name]
    assert tokenizer(["a photo of a dog."]).shape == (1, 77)


def test_vit_b32_builds_with_open_clips_parameter_count():
    _check_random_build("vit_b32")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PUBLISHED_MPARAMS))
def test_every_backbone_config_builds_with_open_clips_parameter_count(name):
    _check_random_build(name)


@pytest.mark.parametrize("name", sorted(PUBLISHED_MPARAMS))
def test_openai_configs_use_quick_gelu_as_trained(name):
    cfg = compose_config(f"backbone={name}").backbone
    assert cfg.pretrained == "openai" and cfg.pretrained in open_clip.list_pretrained_tags_by_model(cfg.arch)
    assert cfg.quick_gelu is open_clip.get_pretrained_cfg(cfg.arch, "openai")["quick_gelu"] is True


def test_laion_tag_needs_gelu():
    cfg = compose_config("backbone=vit_b32", "backbone.pretrained=laion2b_s34b_b79k").backbone
    with pytest.raises(UnlearnError, match="backbone.quick_gelu=true does not match the weights "
                                           "ViT-B-32/laion2b_s34b_b79k .*set backbone.quick_gelu=false"):
        build_backbone(cfg)
    cfg.quick_gelu = False  # then it goes as far as the (offline) hub
    with pytest.raises(UnlearnError, match="pretrained weights ViT-B-32/laion2b_s34b_b79k are not available offline"):
        build_backbone(cfg)


def test_offline_vit_b32_fails_fast_with_one_clear_line(cli):
    # the interpreter and its imports (torch, open_clip) are most of the time: measure them apart
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import unlearn.run"], cwd=ROOT, check=True)
    imports = time.perf_counter() - start
    start = time.perf_counter()
    proc, run_dir = cli(*DEBUG, "backbone=vit_b32")
    elapsed = time.perf_counter() - start
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert ("pretrained weights ViT-B-32/openai are not available offline (HF_HUB_OFFLINE is set; cache dir"
            in proc.stderr)
    assert "backbone.pretrained=/path/to/checkpoint.pt" in proc.stderr
    assert elapsed - imports < 5.0, (elapsed, imports)


def test_weights_in_the_hub_cache_are_found_and_load(tmp_path):
    """The cache layout huggingface_hub writes: models--org--repo/{refs/main, snapshots/<rev>/file}."""
    model = create_random("MiniRN")
    repo = tmp_path / "models--someone--mini-clip"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, snapshot / "open_clip_model.safetensors")
    assert cached_weights({"hf_hub": "someone/absent/"}, str(tmp_path)) is None
    path = cached_weights({"hf_hub": "someone/mini-clip/"}, str(tmp_path))
    assert path == str(snapshot / "open_clip_model.safetensors")
    loaded = open_clip.create_model("MiniRN", pretrained=path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_local_checkpoint_path_is_accepted(tmp_path):
    from unlearn.models.checkpoint import save_checkpoint

    model = create_random("MiniViT")
    path = save_checkpoint(tmp_path / "m.pt", model.state_dict(), "MiniViT", {})
    cfg = compose_config("backbone=mini_vit", f"backbone.pretrained={path}").backbone
    loaded, _ = build_backbone(cfg)
    assert torch.equal(loaded.visual.conv1.weight, model.visual.conv1.weight)


def test_eval_transform_follows_the_model():
    vit = eval_transform(create_random("ViT-B-32", quick_gelu=True))
    mini = eval_transform(create_random("MiniRN"))
    assert vit(Image.new("RGB", (320, 240))).shape == (3, 224, 224)
    assert mini(Image.new("RGB", (64, 48))).shape == (3, 32, 32)
