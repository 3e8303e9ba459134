"""Build a CLIP model and its tokenizer from a backbone config: random weights, the tiny CLIPs'
synthetic pretraining (unlearn/models/tiny.py), a checkpoint file, or an open_clip tag."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import open_clip
import torch

from unlearn.errors import UnlearnError
from unlearn.models.checkpoint import CheckpointError, load_checkpoint, read_failure
from unlearn.models.factory import build_tokenizer, create_random
from unlearn.models.hub import cache_dir_shown, cached_weights, hub_unreachable
from unlearn.models.tiny import load_or_pretrain

PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode", "fill_color")


def build_backbone(cfg) -> tuple[torch.nn.Module, Callable]:
    """(model in eval mode on CPU, tokenizer) for a backbone config."""
    tokenizer = build_tokenizer(cfg)
    source = cfg.pretrained
    if source is None:
        model = create_random(cfg.arch, cfg.quick_gelu)
    elif source == "synthetic":
        model = load_or_pretrain(cfg)
    elif source.endswith((".pt", ".pth", ".bin", ".safetensors")) or os.path.sep in source:
        model = _from_checkpoint(cfg, Path(source))
    else:
        model = _from_open_clip_tag(cfg)
    return model.eval(), tokenizer


def _from_checkpoint(cfg, path: Path) -> torch.nn.Module:
    if not path.is_file():
        raise UnlearnError(f"checkpoint {str(path)!r} (backbone.pretrained) does not exist")
    model = create_random(cfg.arch, cfg.quick_gelu)
    try:
        state, arch, _ = load_checkpoint(path)
    except CheckpointError as ours:
        # not one of ours: let open_clip read a foreign checkpoint (OpenAI JIT, a state dict, ...)
        try:
            open_clip.load_checkpoint(model, str(path))
        except Exception as err:  # open_clip and torch raise many types; each means "cannot read it"
            raise UnlearnError(f"{ours} (backbone.pretrained); open_clip cannot read it either "
                               f"({read_failure(err)})") from None
        return model
    if arch != cfg.arch:
        raise UnlearnError(f"checkpoint {str(path)!r} holds architecture {arch!r}, backbone.arch is {cfg.arch!r}")
    model.load_state_dict(state)
    return model


def _from_open_clip_tag(cfg) -> torch.nn.Module:
    tags = open_clip.list_pretrained_tags_by_model(cfg.arch)
    if cfg.pretrained not in tags:
        raise UnlearnError(
            f"pretrained tag {cfg.pretrained!r} does not exist for {cfg.arch}; valid: {', '.join(tags) or 'none'}"
        )
    tag_cfg = open_clip.get_pretrained_cfg(cfg.arch, cfg.pretrained)
    # OpenAI's weights were trained with QuickGELU, most LAION ones with GELU: a mismatch runs silently but worse
    tag_quick_gelu = bool(tag_cfg.get("quick_gelu", False))
    quick_gelu = cfg.quick_gelu or bool(open_clip.get_model_config(cfg.arch).get("quick_gelu", False))
    if quick_gelu != tag_quick_gelu:
        raise UnlearnError(
            f"backbone.quick_gelu={str(quick_gelu).lower()} does not match the weights {cfg.arch}/{cfg.pretrained} "
            f"(trained with quick_gelu={str(tag_quick_gelu).lower()}); set backbone.quick_gelu={str(tag_quick_gelu).lower()}"
        )
    cached = cached_weights(tag_cfg, cfg.cache_dir)
    if cached is None and (reason := hub_unreachable()):
        raise UnlearnError(
            f"pretrained weights {cfg.arch}/{cfg.pretrained} are not available offline ({reason}; cache dir "
            f"{cache_dir_shown(cfg.cache_dir)}). Fetch them where there is network with "
            f"`python -c \"import open_clip; open_clip.create_model('{cfg.arch}', pretrained='{cfg.pretrained}')\"` "
            f"and copy the cache here, or set backbone.pretrained=/path/to/checkpoint.pt"
        )
    # a cached file is loaded as a file (no hub round trip) with the tag's preprocessing
    preprocess = {k: tag_cfg[k] for k in PREPROCESS_KEYS if k in tag_cfg}
    try:
        return open_clip.create_model(cfg.arch, pretrained=cached or cfg.pretrained, force_quick_gelu=cfg.quick_gelu,
                                      cache_dir=cfg.cache_dir, force_preprocess_cfg=preprocess)
    except Exception as err:  # hub/network/file errors come in many types
        raise UnlearnError(f"loading pretrained weights {cfg.arch}/{cfg.pretrained} failed: {type(err).__name__}: {err}") from None
