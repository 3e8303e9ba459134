"""Image folder listings kept on disk (unlearn/data/file_index.py): listed once, listed again where
a folder changed, and the same listing either way."""

from __future__ import annotations

import logging
import os

import pytest

import unlearn.data.file_index as file_index_module
from unlearn.data import fakes as fake
from unlearn.data.file_index import file_index, listed

NAMES = ["a", "b", "c"]


def counting_listings(monkeypatch) -> list:
    calls = []
    original = file_index_module.image_files
    monkeypatch.setattr(file_index_module, "image_files", lambda folder: calls.append(folder.name) or original(folder))
    return calls


def test_folders_are_listed_once_and_again_where_they_changed(tmp_path, monkeypatch):
    root = fake.write_class_folder(tmp_path / "data", NAMES, per_class=3)
    calls = counting_listings(monkeypatch)
    plain = listed(root, NAMES)
    with file_index(tmp_path / "index"):
        assert listed(root, NAMES) == plain and calls == NAMES * 2
        assert listed(root, NAMES) == plain and calls == NAMES * 2  # from the index
        added = root / "b" / "9.png"
        added.write_bytes((root / "b" / "0.png").read_bytes())
        stat = (root / "b").stat()
        os.utime(root / "b", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # a coarse clock may not have moved
        again = listed(root, NAMES)
    assert calls == NAMES * 2 + ["b"] and again[1] == [*plain[1], added] and again[0] == plain[0]
    assert listed(root, NAMES) == again and calls[-3:] == NAMES  # outside file_index: listed every time


@pytest.mark.parametrize("damage", ["garbage", "edited"])
def test_a_damaged_index_is_named_and_listed_again(tmp_path, monkeypatch, caplog, damage):
    root = fake.write_class_folder(tmp_path / "data", NAMES, per_class=3)
    with file_index(tmp_path / "index"):
        plain = listed(root, NAMES)
        (index,) = (tmp_path / "index").glob("*.json")
        text = index.read_text()
        index.write_text("{not json" if damage == "garbage" else text.replace("0.png", "7.png"))
        calls = counting_listings(monkeypatch)
        with caplog.at_level(logging.WARNING):
            assert listed(root, NAMES) == plain and calls == NAMES
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(index) in warnings[0]
    assert index.read_text() == text  # rewritten whole
