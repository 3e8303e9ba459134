"""User-facing errors: one clear line, no traceback."""

from hydra.errors import CompactHydraException


class UnlearnError(CompactHydraException):
    """Bad input or an unavailable resource. Hydra prints only the message for these."""


def choices(values) -> str:
    return ", ".join(str(v) for v in values)
