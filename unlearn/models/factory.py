"""open_clip's factory, as the rest of the code uses it: random models, tokenizers, the
evaluation transform, and the flags a checkpoint records. Registers the tiny and miniature
architectures (`configs/*.json`) with open_clip on import."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import open_clip
import torch

from unlearn.config.schema import TokenizerKind
from unlearn.errors import UnlearnError
from unlearn.models.tokenizer import synthetic_tokenizer

open_clip.add_model_config(Path(__file__).parent / "configs")


def model_flags(cfg) -> dict:
    """What a checkpoint records beside its weights, enough to rebuild the model."""
    return {"pretrained": cfg.pretrained, "quick_gelu": bool(cfg.quick_gelu), "tokenizer": str(cfg.tokenizer)}


def create_random(arch: str, quick_gelu: bool = False) -> torch.nn.Module:
    if arch not in open_clip.list_models():
        raise UnlearnError(f"unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # open_clip warns "no pretrained weights": intended here
    try:
        return open_clip.create_model(arch, pretrained=None, force_quick_gelu=quick_gelu)
    finally:
        root.setLevel(level)


def build_tokenizer(cfg) -> Callable:
    if cfg.tokenizer == TokenizerKind.synthetic:
        text_cfg = open_clip.get_model_config(cfg.arch)["text_cfg"]
        return synthetic_tokenizer(text_cfg["vocab_size"], text_cfg["context_length"])
    return open_clip.get_tokenizer(cfg.arch)


def eval_transform(model) -> Callable:
    """The model's evaluation preprocessing (resize, center crop, normalise), as open_clip sets it."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    return image_transform_v2(PreprocessCfg(**open_clip.get_model_preprocess_cfg(model)), is_train=False)
