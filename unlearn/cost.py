"""What a job spends, per phase: wall seconds, images decoded and images encoded, and memory.

    with phase("stage1"):
        ...

`metrics.json` gets `cost/<phase>/seconds`, `cost/<phase>/images_decoded`,
`cost/<phase>/images_encoded` and `cost/<phase>/integrity_seconds` (and W&B its summary). Phases nest: `unlearn` (the whole method)
includes a method's own phases (three-stage's `fisher`, `stage1`, `stage2`, `stage3`,
`soup_search`) and the evaluations of its intermediate states (`<stage>_eval`); `before_eval` and
`after_eval` measure the original and the unlearned model; before them, `load_data` lists the
dataset's files (unlearn/data/file_index.py) and `cache_data` fills the data caches
(unlearn/data/cache.py: with them on, a job's decoding happens there). A phase entered twice adds up.
The top-level phases, in order, are `rundir.JOB_PHASES` (the run-folder contract the report reads).

- decoded: images a loader produced from files or arrays (JPEG/PNG decoding or array conversion,
  then the transform), counted as batches arrive; in-memory tensors (the synthetic world) cost
  no decoding and are not counted.
- encoded: images through the image tower (a forward hook), training, teacher and evaluation
  passes alike.
- integrity: seconds spent checking that cached data is what it claims to be (checksums of cache
  entries, the size and modification time of each image file, unlearn/cache_entry.py).
- `peak_rss_mb`: the process's resident-memory high-water mark when the phase ends (the first
  phase where it jumps is the one that needed it); `peak_gpu_mb` likewise for CUDA allocations.
One meter per process, reset at the start of each job. The high-water marks are the process's:
the default launcher runs a multirun's jobs one after another in one process, so read them on
single runs (or one process per job: `hydra/launcher=local`, slurm).
"""

from __future__ import annotations

import contextlib
import resource
import time
from dataclasses import dataclass, field
from typing import Iterator

import torch


@dataclass
class Meter:
    decoded: int = 0
    encoded: int = 0
    checked_s: float = 0.0
    phases: dict[str, dict[str, float]] = field(default_factory=dict)

    def reset(self) -> None:
        self.decoded, self.encoded, self.checked_s, self.phases = 0, 0, 0.0, {}

    def as_metrics(self) -> dict[str, dict[str, float]]:
        return {name: dict(values) for name, values in self.phases.items()}


METER = Meter()


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    start, decoded, encoded, checked = time.perf_counter(), METER.decoded, METER.encoded, METER.checked_s
    try:
        yield
    finally:
        spent = METER.phases.setdefault(name, {"seconds": 0.0, "images_decoded": 0, "images_encoded": 0,
                                               "integrity_seconds": 0.0})
        spent["seconds"] += time.perf_counter() - start
        spent["images_decoded"] += METER.decoded - decoded
        spent["images_encoded"] += METER.encoded - encoded
        spent["integrity_seconds"] += METER.checked_s - checked
        spent["peak_rss_mb"] = peak_rss_mb()
        if torch.cuda.is_available():
            spent["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20


def peak_rss_mb() -> float:
    """The process's resident-memory high-water mark so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def count_decoded(images: int) -> None:
    METER.decoded += images


def count_checked(seconds: float) -> None:
    METER.checked_s += seconds


def count_encodes(image_tower: torch.nn.Module) -> torch.utils.hooks.RemovableHandle:
    """Count every image through `image_tower` (copies of the model made later count too)."""

    def hook(module, inputs, output):
        METER.encoded += int(inputs[0].shape[0])

    return image_tower.register_forward_hook(hook)
