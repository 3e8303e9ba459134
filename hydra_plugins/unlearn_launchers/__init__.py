"""Hydra's submitit launchers (`hydra/launcher=local`, `slurm`, `slurm_cpu`), waiting for the whole
array before the sweep reports.

hydra-submitit-launcher collects its jobs' results in order and stops at the first job that left
none (a `scancel`, a node that died, the OOM killer): Hydra then exits while the rest of the array
still runs, and the sweep summary (unlearn/sweeps.py) would count those jobs as running. These
launchers submit the same array the same way, wait for every job, and report a job that left no
result as failed, naming its scheduler state; the sweep then ends as it does at a failed job (the
summary names every job, the exit code is non-zero).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
from omegaconf import OmegaConf

from unlearn.errors import UnlearnError

log = logging.getLogger(__name__)

EXECUTOR_KEYS = ("max_num_timeout",)  # arguments of the executor itself (prefixed by its name), not of each job
INIT_KEYS = ("submitit_folder", *EXECUTOR_KEYS)


class WaitingLauncher(BaseSubmititLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit  # as the base class: Hydra lists launchers without importing submitit

        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, folder=self.params["submitit_folder"],
                                         **{f"{self._EXECUTOR}_{key}": self.params[key]
                                            for key in EXECUTOR_KEYS if key in self.params})
        common = set(OmegaConf.structured(BaseQueueConf).keys())  # unprefixed; the rest are the executor's own
        executor.update_parameters(**{key if key in common else f"{self._EXECUTOR}_{key}": value
                                      for key, value in self.params.items() if key not in INIT_KEYS})
        log.info("Submitit '%s' sweep output dir : %s", self._EXECUTOR, sweep_dir)
        numbers = range(initial_job_idx, initial_job_idx + len(job_overrides))
        for number, overrides in zip(numbers, job_overrides):
            log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
        jobs = executor.map_array(self, [list(o) for o in job_overrides], ["hydra.sweep.dir"] * len(job_overrides),
                                  list(numbers), [f"job_id_for_{n}" for n in numbers],
                                  [Singleton.get_state()] * len(job_overrides))
        for job in jobs:
            job.wait()
        return [result_of(job, overrides) for job, overrides in zip(jobs, job_overrides)]


def result_of(job, overrides: Sequence[str]) -> JobReturn:
    """The job's JobReturn; a failed one when the job left none."""
    from submitit.core.utils import UncompletedJobError

    try:
        return job.results()[0]
    except UncompletedJobError:
        error = UnlearnError(f"job {job.job_id} ({' '.join(overrides)}) ended without a result: "
                             f"{job.state}; its log: {job.paths.stderr}")
        return JobReturn(overrides=list(overrides), status=JobStatus.FAILED, _return_value=error)


class LocalLauncher(WaitingLauncher):
    _EXECUTOR = "local"


class SlurmLauncher(WaitingLauncher):
    _EXECUTOR = "slurm"
