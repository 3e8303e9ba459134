"""`python -m unlearn` / `unlearn`: the one entrypoint (Hydra; `-m` for sweeps)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from unlearn.config import setup
from unlearn.config.setup import CONF_DIR
from unlearn.errors import UnlearnError

# at import, not in main(): submitit workers unpickle `app` from this module and compose there
try:
    setup()
except UnlearnError as err:  # a plugin that cannot be imported: one line, as Hydra prints ours
    sys.exit(str(err))


# an absolute folder: the console script `unlearn` runs this module by name, where "../conf" would
# be read as a Python package
@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def app(cfg: DictConfig) -> float:
    from unlearn.run import execute  # torch and every method: after Hydra has parsed the command line

    return execute(cfg, Path(HydraConfig.get().runtime.output_dir))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
