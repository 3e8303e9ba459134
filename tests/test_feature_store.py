"""The feature store (unlearn/feature_store.py): computed once per key, read back bit for bit."""

from __future__ import annotations

import torch

from unlearn.feature_store import FeatureStore, run_context


def test_a_value_is_computed_once_per_key_and_context(tmp_path):
    calls = []

    def compute() -> torch.Tensor:
        calls.append(1)
        return torch.randn(5, 3)

    cpu = torch.device("cpu")
    store = FeatureStore(tmp_path, run_context("MiniRN", cpu, "None", 64))
    value = store.fetch("features", (b"weights", "files"), compute)
    assert torch.equal(store.fetch("features", (b"weights", "files"), compute), value) and len(calls) == 1
    store.fetch("features", (b"other weights", "files"), compute)
    FeatureStore(tmp_path, run_context("MiniRN", cpu, "None", 32)).fetch("features", (b"weights", "files"), compute)
    assert len(calls) == 3  # other weights; another batch size
    assert not list(tmp_path.glob("*partial*"))  # written atomically
