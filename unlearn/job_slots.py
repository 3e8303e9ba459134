"""At most N jobs of a sweep at once on one machine, for `hydra/launcher=local`.

Submitit's local launcher starts every job of a sweep at once (it has no `array_parallelism`), so
24 jobs on one GPU would share its memory and its decoding cores. Each job therefore holds one of
`local_parallelism` slots while it works: an exclusive lock (flock) on one of the files
`<sweep dir>/.slots/<i>.lock`, released when the job ends or its process dies. A job that finds
every slot held waits. `local_parallelism: null` (the default) allows one job per visible GPU,
or on a machine without one, one per `num_threads` CPU cores. Other launchers run jobs one after
another (the default) or on their own machines (Slurm), and take no slot.

    with job_slot(cfg):
        ...  # the job
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Iterator

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

log = logging.getLogger(__name__)

LOCAL_LAUNCHER = "hydra_plugins.unlearn_launchers.LocalLauncher"
POLL_S = 2.0


def slots_for(cfg) -> int:
    """How many jobs of a sweep may run at once on this machine."""
    if cfg.local_parallelism:
        return cfg.local_parallelism
    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return max(1, (os.cpu_count() or 1) // (cfg.num_threads or 1))


@contextlib.contextmanager
def job_slot(cfg) -> Iterator[None]:
    """Hold a slot of the sweep while the body runs (only under the local launcher)."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN \
            or HydraConfig.get().launcher.get("_target_") != LOCAL_LAUNCHER:
        yield
        return
    with holding_one_of(Path(HydraConfig.get().sweep.dir) / ".slots", slots_for(cfg)):
        yield


@contextlib.contextmanager
def holding_one_of(folder: Path, slots: int, poll_s: float = POLL_S) -> Iterator[int]:
    """Wait until one of `slots` lock files in `folder` is free; hold it (yields its number)."""
    folder.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for number in range(slots):
            handle = open(folder / f"{number}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield number
            finally:
                handle.close()  # releases the lock
            return
        if not waited:
            log.info("waiting for one of %d job slots (%s)", slots, folder)
            waited = True
        time.sleep(poll_s)
