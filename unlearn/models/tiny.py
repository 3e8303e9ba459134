"""The tiny CLIPs' weights (`backbone.pretrained: synthetic`): contrastive pretraining on the
synthetic world, and the checkpoint cache in front of it.

`load_or_pretrain` looks for a checkpoint shipped in the package (unlearn/assets/), then in the
user cache, and pretrains only when neither exists; `python -m unlearn.pretrain` (make
pretrain) trains one explicitly. The cache key hashes everything that determines the weights:
the architecture, the pretraining recipe, the tokenizer and the world version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, ListConfig, OmegaConf

from unlearn.data import synthetic
from unlearn.data.transforms import normalize_uint8
from unlearn.errors import UnlearnError
from unlearn.io import write_once
from unlearn.models.checkpoint import load_checkpoint, save_checkpoint
from unlearn.models.factory import build_tokenizer, create_random, model_flags
from unlearn.progress import progress
from unlearn.runtime import user_cache_dir

log = logging.getLogger(__name__)

# Bump when the renderer or caption grammar changes: old checkpoints then stop matching.
WORLD_VERSION = 1
SHIPPED_DIR = Path(__file__).parents[1] / "assets"


def cache_key(cfg) -> str:
    # resolved: a config may set `pretrain.seed: ${seed}` (sequential_synthetic), and the key must be the seed's
    pretrain = (OmegaConf.to_container(cfg.pretrain, resolve=True) if isinstance(cfg.pretrain, DictConfig)
                else dict(cfg.pretrain))
    recipe = {
        "arch": open_clip.get_model_config(cfg.arch),
        # unset (null) options stay out of the key, so adding an option keeps every existing checkpoint's key
        "pretrain": {k: v for k, v in pretrain.items() if v is not None},
        "world": WORLD_VERSION,
        "tokenizer": str(cfg.tokenizer),
    }
    return hashlib.sha1(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]


def checkpoint_name(cfg) -> str:
    return f"{cfg.arch}-{cache_key(cfg)}.pt"


def find_cached(cfg) -> Path | None:
    for folder in (SHIPPED_DIR, user_cache_dir()):
        path = folder / checkpoint_name(cfg)
        if path.is_file():
            return path
    return None


def retrained(backbone, forget, dataset: str, asked_by: str, seed_offset: int = 0, instead: str = "") -> DictConfig:
    """The backbone config of a tiny CLIP pretrained again without the forget spec's images (same
    recipe, pretraining seed + `seed_offset`): exact unlearning, cached like every tiny checkpoint.
    `forget` may be a list of specs (deletion requests): without the images of every one.
    Only the tiny CLIPs of the embedded world can be; the error names `asked_by`, and `instead`."""
    if backbone.pretrained != "synthetic" or backbone.pretrain is None or dataset != "synthetic":
        raise UnlearnError(f"{asked_by} pretrains a tiny CLIP on the embedded world again; backbone {backbone.name} "
                           f"on dataset {dataset} cannot be; valid: tiny_rn, tiny_vit on dataset=synthetic{instead}")
    cfg = OmegaConf.create(OmegaConf.to_container(backbone, resolve=True))  # standalone: nothing left to resolve
    specs = [{"classes": list(spec.classes), "attributes": dict(spec.attributes)}
             for spec in (forget if isinstance(forget, (list, ListConfig)) else [forget])]
    cfg.pretrain.leave_out = specs[0] if len(specs) == 1 else specs  # one spec: the key it always had
    cfg.pretrain.seed = int(cfg.pretrain.seed) + seed_offset
    return cfg


def load_or_pretrain(cfg) -> torch.nn.Module:
    path = find_cached(cfg)
    if path is None:
        log.info("no cached %s checkpoint: pretraining on the synthetic world (one-off; or waiting for "
                 "the job that is)", cfg.arch)
        # under a lock: of jobs that need the same model at once (sweeps run side by side), one
        # pretrains it and the others wait for it
        path = write_once(user_cache_dir() / checkpoint_name(cfg), lambda tmp: pretrain(cfg, tmp))
    model = create_random(cfg.arch, cfg.quick_gelu)
    try:
        state, _, _ = load_checkpoint(path)
    except UnlearnError as err:
        raise UnlearnError(f"{err}; delete it to pretrain again, or run `make pretrain`") from None
    model.load_state_dict(state)
    return model


def _lr_at(step: int, p) -> float:
    if step < p.warmup_steps:
        return p.lr * (step + 1) / p.warmup_steps
    done = (step - p.warmup_steps) / max(1, p.steps - p.warmup_steps)
    return p.lr * 0.5 * (1 + math.cos(math.pi * done))


def multi_positive_clip_loss(logits: torch.Tensor, matches: torch.Tensor) -> torch.Tensor:
    """Symmetric CLIP loss where every caption that describes an image counts as its positive."""
    img_targets = matches / matches.sum(1, keepdim=True)
    txt_targets = matches.T / matches.T.sum(1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits, img_targets) + F.cross_entropy(logits.T, txt_targets))


def pretrain(cfg, out_path: Path) -> Path:
    """Train cfg.arch from scratch with recipe cfg.pretrain; save to out_path (fp16)."""
    p = cfg.pretrain
    torch.manual_seed(p.seed)
    rng = np.random.default_rng(p.seed)
    model = create_random(cfg.arch, cfg.quick_gelu).train()
    if p.logit_scale is not None:
        model.logit_scale.data.fill_(math.log(p.logit_scale))
        model.logit_scale.requires_grad_(False)
    tokenizer = build_tokenizer(cfg)
    image_size = open_clip.get_model_config(cfg.arch)["vision_cfg"]["image_size"]
    trained = [(n, w) for n, w in model.named_parameters() if w.requires_grad]
    decay = [w for n, w in trained if w.ndim >= 2 and "logit_scale" not in n]
    no_decay = [w for n, w in trained if w.ndim < 2 or "logit_scale" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": p.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=p.lr)
    start = time.time()
    bar = progress(range(p.steps), f"pretrain {cfg.arch}", unit="step")
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, p)
        images, captions, matches = synthetic.pretraining_batch(p.batch_size, rng, image_size, p.leave_out)
        img = model.encode_image(normalize_uint8(torch.from_numpy(images)), normalize=True)
        txt = model.encode_text(tokenizer(captions), normalize=True)
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
        loss = multi_positive_clip_loss(logits, torch.from_numpy(matches).float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    log.info("pretrained %s in %.0f s (final loss %.3f)", cfg.arch, time.time() - start, loss.item())
    flags = model_flags(cfg) | {"cache_key": cache_key(cfg), "world_version": WORLD_VERSION}
    return save_checkpoint(out_path, model.state_dict(), cfg.arch, flags, half=True)
