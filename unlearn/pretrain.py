"""`python -m unlearn.pretrain backbone=tiny_rn [out_dir=DIR]` (make pretrain): pretrain a tiny
backbone on the synthetic world (unlearn/models/tiny.py) and save it into the user cache, or
into out_dir (`out_dir=unlearn/assets` refreshes the shipped checkpoints)."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from unlearn.config import setup
from unlearn.config.ranges import config_errors
from unlearn.errors import UnlearnError
from unlearn.models.tiny import checkpoint_name, pretrain
from unlearn.runtime import configure_threads, user_cache_dir


@hydra.main(version_base="1.3", config_path="../conf", config_name="pretrain")
def app(cfg: DictConfig) -> None:
    if errors := config_errors(cfg):
        raise UnlearnError("; ".join(errors))
    configure_threads(cfg.num_threads)
    backbone = cfg.backbone
    if backbone.pretrained != "synthetic" or backbone.pretrain is None:
        raise UnlearnError(f"backbone {backbone.name} is not pretrained here (backbone.pretrained={backbone.pretrained}); "
                           "valid: tiny_rn, tiny_vit")
    out = Path(cfg.out_dir) if cfg.out_dir else user_cache_dir()
    path = pretrain(backbone, out / checkpoint_name(backbone))
    print(f"saved {path}")


def main() -> None:
    setup()
    app()


if __name__ == "__main__":
    main()
