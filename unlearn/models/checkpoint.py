"""Checkpoints are plain state dicts saved with their architecture name and flags."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from unlearn.errors import UnlearnError
from unlearn.io import atomic_write


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], arch: str,
                    flags: dict[str, Any], half: bool = False) -> Path:
    """`half` stores floating tensors as fp16 (the shipped tiny checkpoints must stay small)."""
    tensors = {
        k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
        for k, v in state_dict.items()
    }
    payload = {"arch": arch, "flags": dict(flags), "state_dict": tensors}
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


class CheckpointError(UnlearnError):
    """A checkpoint file that cannot be read as one of ours."""


EXPECTED = "a file written by unlearn's save_checkpoint: {arch, flags, state_dict} of plain tensors"


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], str, dict[str, Any]]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types here; every one means "not a readable checkpoint"
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read ({read_failure(err)}); expected {EXPECTED}") from None
    if not isinstance(payload, dict) or not {"arch", "flags", "state_dict"} <= set(payload):
        raise CheckpointError(f"checkpoint {str(path)!r} is not one of ours (keys: {_keys(payload)}); expected {EXPECTED}")
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    return state, payload["arch"], payload["flags"]


def read_failure(err: Exception) -> str:
    """Why torch could not read a file, in a few words. Never torch's advice to retry with
    weights_only=False: that executes whatever code the file holds."""
    if isinstance(err, (pickle.UnpicklingError, KeyError, EOFError)):  # what unpickling a non-pickle raises
        return "not a PyTorch file, or one holding objects other than tensors"
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {first}" if first and "weights_only" not in first else type(err).__name__


def _keys(payload: Any) -> str:
    return ", ".join(map(str, list(payload)[:5])) if isinstance(payload, dict) else type(payload).__name__
