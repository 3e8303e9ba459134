"""Original: no change. The reference row of every table (before = after by construction)."""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.config.schema import MethodConfig
from unlearn.methods import METHODS


@dataclass
class OriginalConfig(MethodConfig):
    pass


@METHODS.register("original", OriginalConfig, rank=0)
def original(ctx) -> None:
    """Leaves ctx.model exactly as it is."""
