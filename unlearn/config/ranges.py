"""Valid ranges of numeric config values, declared beside each default in the schemas:

    steps: int = at_least(1, 100)          # an integer >= 1, default 100
    lr: float = positive(1e-5)             # > 0
    beta: float = fraction(0.5)            # in [0, 1]
    ema_decay: float = fraction(0.9, high_open=True)   # in [0, 1)
    soup_grid: list[float] = ranged(default_factory=..., low=0, high=1, low_open=True)  # each item in (0, 1]

`config_errors(cfg)` walks a composed config and returns one line per value outside its range and
per key its schema does not have (Hydra's `+key=value` adds keys even to a typed node). Every
int/float field of every schema declares a range (a test checks it); null passes where the field
is Optional.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


@dataclass(frozen=True)
class Range:
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: float) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {_number(self.high)}"
        return f"{'(' if self.low_open else '['}{_number(self.low)}, {_number(self.high)}{')' if self.high_open else ']'}"


def _number(value: float) -> str:
    """Whole numbers in full (a seed's bound is 4294967295, not 4.29497e+09), others as %g."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def ranged(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, low: float | None = None,
           high: float | None = None, low_open: bool = False, high_open: bool = False) -> Any:
    """A dataclass field whose value (or each item, for a list) must lie in the range."""
    rng = Range(low, high, low_open, high_open)
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata={"range": rng})
    return field(default=default, metadata={"range": rng})


def at_least(low: float, default: Any = dataclasses.MISSING) -> Any:
    return ranged(default, low=low)


def positive(default: Any = dataclasses.MISSING) -> Any:
    return ranged(default, low=0, low_open=True)


def fraction(default: Any = dataclasses.MISSING, low_open: bool = False, high_open: bool = False) -> Any:
    return ranged(default, low=0, high=1, low_open=low_open, high_open=high_open)


def config_errors(cfg: DictConfig, path: str = "") -> list[str]:
    """One line per out-of-range value and per unknown key, for every typed node under `cfg`."""
    errors = []
    schema = OmegaConf.get_type(cfg)
    fields = {f.name: f for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else None
    for key in cfg:
        where = f"{path}{key}"
        if fields is not None and key not in fields:
            errors.append(f"unknown key {where} (not in {schema.__name__}); valid: {', '.join(fields)}")
            continue
        if OmegaConf.is_missing(cfg, key):
            continue
        value = cfg[key]
        if isinstance(value, DictConfig):
            errors += config_errors(value, f"{where}.")
            continue
        rng = fields[key].metadata.get("range") if fields is not None else None
        if rng is None:
            continue
        values = list(value) if isinstance(value, ListConfig) else [value]
        bad = [v for v in values if v is not None and not rng.holds(v)]
        if bad:
            shown = list(value) if isinstance(value, ListConfig) else value
            errors.append(f"{where}={shown} is out of range; valid: {'each item ' if isinstance(value, ListConfig) else ''}"
                          f"{rng} ({schema.__name__}.{key})")
    return errors
