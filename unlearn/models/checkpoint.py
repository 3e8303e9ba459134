"""Checkpoints are plain state dicts saved with their architecture name and flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

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


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], str, dict[str, Any]]:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    return state, payload["arch"], payload["flags"]
