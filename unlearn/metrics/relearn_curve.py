"""The relearn metric's curve read back from its keys (`relearn/<k>/forget/acc`), torch-free: the
metric writes its mean, the audit's W&B table and the report's plot read the curve."""

from __future__ import annotations

import re

_FORGET_AT_STEP = re.compile(r"relearn/(\d+)/forget/acc")


def forget_curve(values: dict) -> dict[int, float]:
    """k -> `relearn/<k>/forget/acc` of every recorded k with a value, in order of k."""
    found = {}
    for key, value in values.items():
        if (match := _FORGET_AT_STEP.fullmatch(key)) and value is not None:
            found[int(match[1])] = value
    return dict(sorted(found.items()))


def curve_mean(values: dict) -> float | None:
    """The mean forget accuracy over the recorded k (None: none recorded)."""
    curve = forget_curve(values)
    return sum(curve.values()) / len(curve) if curve else None
