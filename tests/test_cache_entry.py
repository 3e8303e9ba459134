"""Cache entries (unlearn/cache_entry.py): a damaged entry is named and rebuilt; storage that refuses
(read-only, missing, full) costs one warning and no failure; nothing half-written is left."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest

from tests.conftest import fill
from unlearn.cache_entry import Damaged, checksum, entry_lock, read_entry, reset_refusals, store_entry, verify


def load_json(path: Path) -> dict:
    entry = json.loads(path.read_text())
    verify(json.dumps(entry["value"]).encode(), entry["crc32"], "value")
    return entry["value"]


def fetch(path: Path, value: dict) -> tuple[dict, bool]:
    """(the entry's value, whether it was stored), building `value` when the entry is absent."""
    with entry_lock(path):
        stored = read_entry(path, load_json, "test")
        if stored is not None:
            return stored, True
        text = json.dumps({"value": value, "crc32": checksum(json.dumps(value).encode())})
        return value, store_entry(path, lambda tmp: tmp.write_text(text))


@pytest.fixture(autouse=True)
def _fresh_refusals():
    reset_refusals()
    yield
    reset_refusals()


def test_an_entry_is_stored_and_read_back(tmp_path):
    path = tmp_path / "cache" / "entry.json"
    assert fetch(path, {"a": 1}) == ({"a": 1}, True)
    assert fetch(path, {"a": 2}) == ({"a": 1}, True)  # read, not built again


@pytest.mark.parametrize("damage", ["flipped", "truncated", "empty"])
def test_a_damaged_entry_is_named_once_discarded_and_rebuilt(tmp_path, caplog, damage):
    path = tmp_path / "entry.json"
    fetch(path, {"a": 1})
    text = path.read_text()
    path.write_text({"flipped": text.replace('"a": 1', '"a": 7'), "truncated": text[:10], "empty": ""}[damage])
    with caplog.at_level(logging.WARNING):
        assert fetch(path, {"a": 1}) == ({"a": 1}, True)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0] and "discarded and rebuilt" in warnings[0]
    assert load_json(path) == {"a": 1}  # rebuilt


def test_verify_raises_damaged_on_a_changed_payload():
    with pytest.raises(Damaged, match="chunk 3: checksum mismatch"):
        verify(b"abcd", checksum(b"abce"), "chunk 3")


def test_a_read_only_cache_folder_costs_one_warning_and_no_failure(tmp_path, tmpfs, caplog):
    folder = tmpfs(tmp_path / "ro", "1m", read_only=True)
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            assert fetch(folder / "sub" / f"{i}.json", {"i": i}) == ({"i": i}, False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "cannot store in the cache folder" in warnings[0], warnings


def test_a_full_disk_costs_one_warning_and_leaves_no_temporary_file(tmp_path, tmpfs, caplog):
    folder = tmpfs(tmp_path / "full", "64k")
    (folder / "cache").mkdir()
    fill(folder)
    with caplog.at_level(logging.WARNING):
        for i in range(3):
            assert fetch(folder / "cache" / f"{i}.json", {"i": i, "pad": "x" * 5000}) == ({"i": i, "pad": "x" * 5000},
                                                                                          False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "No space left on device" in warnings[0], warnings
    assert sorted(p.name for p in (folder / "cache").iterdir() if not p.name.endswith(".lock")) == []


def test_a_cache_folder_that_cannot_exist_costs_one_warning(tmp_path, caplog):
    (tmp_path / "a file").write_text("")
    with caplog.at_level(logging.WARNING):
        assert fetch(tmp_path / "a file" / "cache" / "entry.json", {"a": 1}) == ({"a": 1}, False)
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


def test_a_read_only_cache_with_the_entry_serves_it_without_a_warning(tmp_path, tmpfs, caplog):
    folder = tmpfs(tmp_path / "shared", "1m")
    fetch(folder / "entry.json", {"a": 1})
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    with caplog.at_level(logging.WARNING):
        assert fetch(folder / "entry.json", {"a": 2}) == ({"a": 1}, True)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
