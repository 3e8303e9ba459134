"""Device, threads and seeding."""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import numpy as np
import torch

from unlearn.config.schema import Precision
from unlearn.errors import UnlearnError


def user_cache_dir() -> Path:
    """Where pretrained tiny CLIPs, retrained references and the data caches live:
    $UNLEARN_CACHE_DIR, else ~/.cache/unlearn."""
    return Path(os.environ.get("UNLEARN_CACHE_DIR", Path.home() / ".cache" / "unlearn"))


# The environment that caps PyTorch's, oneDNN's and MKL's CPU kernels at AVX2 (read when torch
# loads, so it applies to a new process): the rounding of an x86 machine without AVX-512, whose
# matmuls, convolutions and sums reduce in another order. On a machine without AVX-512 it changes
# nothing. `experiments/check_report.py --kernels avx2` and the Lipschitz reproducibility test use it.
AVX2_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def configure_threads(num_threads: int | None) -> None:
    """Tiny models on CPU spend most time waking threads; one thread is 10-25x faster there."""
    if num_threads:
        torch.set_num_threads(num_threads)


def select_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UnlearnError(f"device={name} but no CUDA device is available; valid here: auto, cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise UnlearnError(f"unknown device {name!r}; valid: auto, cpu, cuda, cuda:N")
    return torch.device(name)


def autocast_dtype(device: torch.device, precision: Precision) -> torch.dtype | None:
    """The autocast dtype for `precision` on `device`; None runs fp32 (always on the CPU)."""
    if device.type != "cuda" or precision == Precision.fp32:
        return None
    if precision == Precision.auto:
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {Precision.bf16: torch.bfloat16, Precision.fp16: torch.float16}[Precision(precision)]


def autocast(device: torch.device, precision: Precision):
    """Mixed precision on CUDA (bf16/fp16 autocast); a no-op context on the CPU."""
    dtype = autocast_dtype(device, precision)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
