"""unlearn: an experiment framework for machine unlearning in CLIP models."""

from importlib import metadata

try:
    __version__ = metadata.version("unlearn")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
