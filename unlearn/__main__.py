"""`python -m unlearn` / `unlearn`: the one entrypoint (Hydra; `-m` for sweeps)."""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from unlearn.config import setup

# at import, not in main(): submitit workers unpickle `app` from this module and compose there
setup()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def app(cfg: DictConfig) -> float:
    from unlearn.run import execute  # torch and every method: after Hydra has parsed the command line

    return execute(cfg, Path(HydraConfig.get().runtime.output_dir))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
