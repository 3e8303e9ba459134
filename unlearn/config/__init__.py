"""Config schemas (`schema.py`) and the setup every entrypoint calls (`setup.py`)."""

from unlearn.config.setup import register_resolvers, setup

__all__ = ["register_resolvers", "setup"]
