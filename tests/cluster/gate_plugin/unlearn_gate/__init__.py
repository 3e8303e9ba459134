"""The method `gate`, for the cluster tests only: it waits at a gate, then leaves the model as it is
(the original's result).

A job at the gate is a job whose work outlasts its time limit, or one that is running when the test
preempts (`scontrol requeue`) or cancels (`scancel`) it. On arrival it writes `<path>.waiting`
holding its Slurm job id (`<array id>_<task>`: what the test requeues or cancels). It waits until the file `path` exists,
except on a requeued attempt (SLURM_RESTART_COUNT > 0), which passes straight through: the attempt
after a time limit or a preemption completes on its own. With `consume=true` (tests/test_requests.py)
each pass removes the gate and the `.waiting` file: one opening lets one request through.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from unlearn.config.schema import MethodConfig
from unlearn.errors import UnlearnError
from unlearn.methods import METHODS


@dataclass
class GateConfig(MethodConfig):
    path: str = ""  # the gate: the job waits until this file exists
    timeout_s: float = 600.0  # a gate never opened fails the job after this long
    consume: bool = False  # each pass closes the gate again


@METHODS.register("gate", GateConfig, rank=99)
def gate(ctx) -> None:
    if int(os.environ.get("SLURM_RESTART_COUNT", "0")) > 0:
        return
    gate_file, deadline = Path(ctx.cfg.path), time.monotonic() + ctx.cfg.timeout_s
    task = os.environ.get("SLURM_ARRAY_TASK_ID")  # an array task is named <array id>_<task> by scancel and scontrol
    job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{task}" if task else os.environ.get("SLURM_JOB_ID", "")
    gate_file.with_name(f"{gate_file.name}.waiting").write_text(job)
    while not gate_file.exists():
        if time.monotonic() > deadline:
            raise UnlearnError(f"method.path={gate_file}: the gate was not opened within {ctx.cfg.timeout_s:g} s")
        time.sleep(0.2)
    if ctx.cfg.consume:
        gate_file.unlink()
        gate_file.with_name(f"{gate_file.name}.waiting").unlink()
