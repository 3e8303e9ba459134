"""The feature store (unlearn/feature_store.py): computed once per key, read back bit for bit."""

from __future__ import annotations

import logging

import pytest
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


@pytest.mark.parametrize("damage", ["zeroed", "truncated"])
def test_a_damaged_entry_is_named_computed_again_and_replaced(tmp_path, caplog, damage):
    """Issue 27, 4: a feature entry that fails its checksum or cannot be parsed never serves values."""
    value = torch.randn(50, 8)
    store = FeatureStore(tmp_path, run_context("MiniRN", torch.device("cpu"), "None", 64))
    store.fetch("features", (b"weights", "files"), lambda: value)
    (entry,) = tmp_path.glob("features-*.pt")
    data = entry.read_bytes()
    at = data.index(value.numpy().tobytes()[:64])  # where the tensor's bytes lie in torch's zip
    damaged = data[:at] + bytes(64) + data[at + 64:] if damage == "zeroed" else data[:len(data) // 2]
    entry.write_bytes(damaged)
    with caplog.at_level(logging.WARNING):
        again = store.fetch("features", (b"weights", "files"), lambda: value)
    assert torch.equal(again, value)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(entry) in warnings[0] and "discarded and rebuilt" in warnings[0]
    assert torch.equal(store.fetch("features", (b"weights", "files"), lambda: torch.zeros(1)), value)  # stored again
