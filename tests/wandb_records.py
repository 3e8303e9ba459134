"""Read an offline W&B run file (`run-<id>.wandb`) without syncing it: the records W&B wrote,
as protobuf messages, and the run's final summary and history rows.

The file is a LevelDB-style log (leveldb's doc/log_format.md): a 7-byte file header (":W&B",
a 2-byte magic, a version byte), then 32 KiB blocks of records, each with a 7-byte header
(crc32, little-endian length, type) followed by its bytes; a record that does not fit in a
block is split into FIRST / MIDDLE / LAST parts, and a block tail shorter than a header is padding.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[wandb_internal_pb2.Record]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    out, parts, offset = [], [], HEADER
    while offset + HEADER <= len(data):
        if BLOCK - offset % BLOCK < HEADER:  # padding at the end of a block
            offset += BLOCK - offset % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[offset:offset + HEADER])
        body = data[offset + HEADER:offset + HEADER + length]
        offset += HEADER + length
        if kind == 0 and length == 0:  # zeroed space: nothing more was written
            break
        parts.append(body)
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(b"".join(parts))
            out.append(record)
            parts = []
    return out


def _key(item) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


def summary(path: Path) -> dict:
    """The run's summary as W&B holds it at the end: every summary update applied in order."""
    values = {}
    for record in records(path):
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                values[_key(item)] = json.loads(item.value_json)
    return values


def history(path: Path) -> list[dict]:
    """Every history row (one per committed step), as {key: value}."""
    rows = []
    for record in records(path):
        if record.WhichOneof("record_type") == "history":
            rows.append({_key(item): json.loads(item.value_json) for item in record.history.item if item.value_json})
    return rows
