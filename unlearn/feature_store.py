"""The original model's image features and class heads, on disk (`cache.features`).

    store = FeatureStore(cache_dir(cfg.cache) / "features", context=run_context(cfg, device))
    features = store.fetch("features", (weights_stamp, set_key), compute)

An entry is keyed by everything its values depend on: the tower's weights (their fingerprint,
unlearn/evaluation.py), the image set's files, labels and preprocessing (unlearn/data/cache.py) or
the class names and prompts, and the run's context: architecture, device, precision, evaluation
batch size, CPU threads, torch and open_clip versions, and the code's version (the package's and
`FEATURES_VERSION`) (a batch of another size, or another kernel, may round
differently). A hit therefore returns the tensor computing it again would give, and every job of
a sweep on the same backbone encodes the original model's evaluation images once: entries are
written once under a lock, so jobs started together wait for the first instead of all computing
the same features, and never read half a file. Each entry carries the checksum of its tensor,
verified on reading: a damaged entry is named, discarded and computed again (unlearn/cache_entry.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from unlearn import __version__
from unlearn.cache_entry import checksum, entry_lock, read_entry, store_entry, verify
from unlearn.io import digest

# bump when what an entry holds changes for the same key (how features or heads are computed,
# unlearn/zeroshot.py, or the entry's layout); tests/test_cache_versions.py holds the code to it
FEATURES_VERSION = 1


class FeatureStore:
    def __init__(self, folder: Path, context: str):
        self.folder, self.context = folder, context

    def fetch(self, kind: str, parts: tuple, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The stored tensor for `parts`, else `compute()`, stored (on the device compute uses)."""
        path = self.folder / f"{kind}-{digest(self.context, __version__, FEATURES_VERSION, *parts)}.pt"
        with entry_lock(path):
            stored = read_entry(path, _load, kind)
            if stored is not None:
                return stored
            value = compute()
            cpu = value.detach().cpu().contiguous()
            store_entry(path, lambda tmp: torch.save({"value": cpu, "crc32": checksum(_bytes(cpu))}, tmp))
            return value


def _bytes(tensor: torch.Tensor) -> memoryview:
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().data


def _load(path: Path) -> torch.Tensor:
    entry = torch.load(path, weights_only=True)
    verify(_bytes(entry["value"]), entry["crc32"], "tensor")
    return entry["value"]


def run_context(arch: str, device: torch.device, precision: str, batch_size: int) -> str:
    """What besides the weights and the data decides a tower's output bit for bit (`precision`:
    the autocast dtype, None for fp32)."""
    import open_clip  # its tokenizer makes the heads' tokens

    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu x{torch.get_num_threads()}"
    return (f"{arch}|{hardware}|{precision}|batch {batch_size}|torch {torch.__version__}|"
            f"open_clip {open_clip.__version__}")
