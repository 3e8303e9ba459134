"""`python -m unlearn` / `unlearn`: the one entrypoint (Hydra; `-m` for sweeps)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path


import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from unlearn.config.schema import register_schemas

# a short random id per launch: run/sweep folders cannot collide even when started in the
# same second; cached so that every job of a sweep (and Hydra's copies of it) sees one value
OmegaConf.register_new_resolver("uid", lambda: uuid.uuid4().hex[:6], use_cache=True, replace=True)


def _clip_templates(dataset: str) -> list[str]:
    from unlearn.data.catalog import clip_templates

    return clip_templates(dataset)


# `templates: ${clip_templates:cifar10}` in dataset configs: CLIP's prompts from a maintained source
OmegaConf.register_new_resolver("clip_templates", _clip_templates, replace=True)
register_schemas()

log = logging.getLogger("unlearn")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def app(cfg: DictConfig) -> float:
    from unlearn.run import execute

    return execute(cfg, Path(HydraConfig.get().runtime.output_dir))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
