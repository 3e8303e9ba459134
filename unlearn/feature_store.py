"""The original model's image features and class heads, on disk (`cache.features`).

    store = FeatureStore(cache_dir(cfg.cache) / "features", context=run_context(cfg, device))
    features = store.fetch("features", (weights_stamp, set_key), compute)

An entry is keyed by everything its values depend on: the tower's weights (their fingerprint,
unlearn/evaluation.py), the image set's files, labels and preprocessing (unlearn/data/cache.py) or
the class names and prompts, and the run's context: architecture, device, precision, evaluation
batch size, CPU threads and torch version (a batch of another size, or another kernel, may round
differently). A hit therefore returns the tensor computing it again would give, and every job of
a sweep on the same backbone encodes the original model's evaluation images once: entries are
written once under a lock (io.write_once), so jobs started together wait for the first instead
of all computing the same features, and never read half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from unlearn.io import digest, write_once


class FeatureStore:
    def __init__(self, folder: Path, context: str):
        self.folder, self.context = folder, context

    def fetch(self, kind: str, parts: tuple, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The stored tensor for `parts`, else `compute()`, stored (on the device compute uses)."""
        path = self.folder / f"{kind}-{digest(self.context, *parts)}.pt"
        computed = []

        def write(tmp: Path) -> None:
            computed.append(compute())
            torch.save({"value": computed[0].detach().cpu()}, tmp)

        write_once(path, write)
        return computed[0] if computed else torch.load(path, weights_only=True)["value"]


def run_context(arch: str, device: torch.device, precision: str, batch_size: int) -> str:
    """What besides the weights and the data decides a tower's output bit for bit (`precision`:
    the autocast dtype, None for fp32)."""
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu x{torch.get_num_threads()}"
    return f"{arch}|{hardware}|{precision}|batch {batch_size}|torch {torch.__version__}"
