"""Sweeps as a user runs them: the submitit launcher, resume, the Optuna sweeper, W&B grouping.

Each CLI sweep costs interpreter starts (~10 s each on 2 cores), so one sweep serves several checks.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from hydra.types import RunMode

import unlearn.run
from tests.conftest import DEBUG, ROOT, compose_config, job_dir, job_dirs, read_metrics, run_cli
from unlearn.errors import UnlearnError
from unlearn.report import report

RESULTS = ("before", "after", "score")


def test_submitit_local_sweep_is_aggregated_and_resumes_only_the_missing_job(tmp_path):
    sweep = tmp_path / "sweep"
    args = ("-m", *DEBUG, "seed=0,1", f"hydra.sweep.dir={sweep}")
    proc = run_cli(*args, "hydra/launcher=local", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "Submitit 'local' sweep output dir" in proc.stderr + proc.stdout
    assert len(list((sweep / ".submitit").glob("*/*_log.out"))) == 2  # two submitit job processes
    jobs = [job_dir(sweep, f"seed={seed}") for seed in (0, 1)]
    first = [read_metrics(job) for job in jobs]

    tables, skipped = report([sweep], tmp_path / "report", None)
    assert skipped == [] and len(tables) == 1
    ours = [row for row in tables[0].rows if row.kind == "ours"]
    assert [(row.method, row.variant, row.seeds) for row in ours] == [("grad_ascent", "debug=default", [0, 1])]
    mean_retain = 100 * (first[0]["after"]["retain/acc"] + first[1]["after"]["retain/acc"]) / 2
    assert ours[0].values["retain/acc"][0] == pytest.approx(mean_retain)
    assert (tmp_path / "report" / "results.md").is_file()

    # resume: lose job 1's result, re-run the same sweep into the same folder. The skip happens in
    # the job (unlearn.run), whatever the launcher: the default one re-runs it here, ~20 s faster.
    kept, lost = jobs[0] / "metrics.json", jobs[1] / "metrics.json"
    stamp = kept.stat().st_mtime_ns
    lost.unlink()
    proc = run_cli(*args, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert kept.stat().st_mtime_ns == stamp  # job 0 was skipped ...
    assert "skipping" in (jobs[0] / "unlearn.log").read_text()
    assert "skipping" not in (jobs[1] / "unlearn.log").read_text()  # ... job 1 ran again
    again = read_metrics(jobs[1])
    assert {k: again[k] for k in RESULTS} == {k: first[1][k] for k in RESULTS}  # deterministic


def test_optuna_sweep_on_the_debug_preset_returns_the_best_score(tmp_path):
    sweep = tmp_path / "optuna"
    proc = run_cli("experiment=optuna_grad_ascent", "hydra.sweeper.n_trials=3", *DEBUG, f"hydra.sweep.dir={sweep}",
                   cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    trials = [read_metrics(job) for job in job_dirs(sweep)]
    assert 1 <= len(trials) <= 3  # a trial that repeats an earlier one's parameters finds its folder and is skipped
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(t["score"] for t in trials))
    assert 1e-6 <= best["best_params"]["method.lr"] <= 1e-3 and best["best_params"]["method.steps"] % 10 == 0
    # each trial is its own row of the report (its lr/steps are the variant)
    tables, _ = report([sweep], tmp_path / "report", None)
    variants = [row.variant for row in tables[0].rows if row.kind == "ours"]
    assert len(set(variants)) == 3 and all("method.lr=" in v and "method.steps=" in v for v in variants)


def test_launcher_and_sweeper_presets_compose():
    # the presets exist and validate against the plugins' schemas (run in a subprocess above: local, optuna)
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu",
                                           "hydra/sweeper=optuna_score"], return_hydra_config=True)
    launcher, sweeper = cfg.hydra.launcher, cfg.hydra.sweeper
    assert launcher._target_.endswith("SlurmLauncher") and launcher.partition == "gpu"
    assert (launcher.gpus_per_node, launcher.array_parallelism, launcher.timeout_min) == (1, 32, 60)
    assert (launcher.cpus_per_task, launcher.mem_gb) == (9, 32)
    assert str(sweeper.direction) in ("maximize", "Direction.maximize") and sweeper.sampler.seed == 0
    assert Path(cfg.hydra.sweep.dir).is_absolute() and Path(cfg.hydra.run.dir).is_absolute()


def test_the_cpu_slurm_preset_is_the_slurm_one_without_a_gpu():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm_cpu"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.unlearn_launchers.SlurmLauncher"
    assert (launcher.gpus_per_node, launcher.cpus_per_task, launcher.mem_gb, launcher.timeout_min) == (0, 1, 4, 60)
    assert (launcher.signal_delay_s, launcher.max_num_timeout, launcher.array_parallelism) == (120, 3, 32)


def test_a_job_that_left_no_result_is_a_failure_naming_its_scheduler_state():
    from submitit.core.utils import UncompletedJobError

    from hydra_plugins.unlearn_launchers import result_of

    class Cancelled:
        job_id, state, paths = "12_1", "CANCELLED by 0", SimpleNamespace(stderr="/sweep/.submitit/12_1/12_1_0_log.err")

        def results(self):
            raise UncompletedJobError("Job 12_1 (task: 0) with path ... has not produced any output (state: CANCELLED)")

    result = result_of(Cancelled(), ["seed=1"])
    assert result.status.name == "FAILED" and result.overrides == ["seed=1"]
    with pytest.raises(UnlearnError, match=r"job 12_1 \(seed=1\) ended without a result: CANCELLED by 0; its log: "):
        _ = result.return_value


def test_wandb_group_is_the_experiment_else_the_sweep_folder(monkeypatch):
    def hydra_in(mode):
        state = SimpleNamespace(mode=mode, sweep=SimpleNamespace(dir="/abs/outputs/multiruns/2026-01-01_00-00-00_ab12cd"))
        monkeypatch.setattr(unlearn.run, "HydraConfig", SimpleNamespace(initialized=lambda: True, get=lambda: state))

    cfg = compose_config(*DEBUG)
    hydra_in(RunMode.MULTIRUN)
    assert unlearn.run.wandb_group(cfg) == "2026-01-01_00-00-00_ab12cd"
    hydra_in(RunMode.RUN)
    assert unlearn.run.wandb_group(cfg) is None
    assert unlearn.run.wandb_group(compose_config(*DEBUG, "experiment=subgroup_red_circle")) == "subgroup_red_circle"
