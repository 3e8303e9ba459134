"""One unlearning job: measure the original model, unlearn, measure again, write the results.

The run folder follows unlearn/rundir.py: `status.json` from the start (running → complete |
failed) and `metrics.json` only once everything succeeded, written atomically, so a folder
without a complete metrics.json never looks like a finished run. A job with deletion requests
(`requests=[...]`) runs them through unlearn/requests.py: in sequence, or at once as one spec.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from unlearn import audit, cost, requests
from unlearn.config.ranges import config_errors
from unlearn.data import add_zeroshot_suites, build_benchmark
from unlearn.data.base import Benchmark
from unlearn.cache_entry import reset_refusals
from unlearn.data.cache import cache_dir, cached_task, check_files
from unlearn.data.file_index import file_index
from unlearn.data.tasks import UnlearningTask, stage_task, without_undecodable
from unlearn.errors import UnlearnError
from unlearn.evaluation import Evaluator
from unlearn.feature_store import FeatureStore, run_context
from unlearn.job_slots import job_slot
from unlearn.loggers import build_logger
from unlearn.methods import METHODS
from unlearn.methods.base import UnlearnContext, unlearn_timed
from unlearn.metrics.base import MetricContext
from unlearn.metrics.suite import MetricSuite
from unlearn.models.anatomy import image_tower
from unlearn.models.backbones import build_backbone
from unlearn.models.checkpoint import save_checkpoint
from unlearn.models.factory import eval_transform, model_flags
from unlearn.results import DEFAULT_METHOD_RANK, RunResult
from unlearn.rundir import (claim, completed_metrics, config_hash, describe_owner, lock_owner, numeric_leaves, read_json,
                            record_launch, set_aside, write_metrics, write_status)
from unlearn.runtime import autocast_dtype, configure_threads, seed_everything, select_device

log = logging.getLogger(__name__)


@dataclass
class Job:
    """Everything a job works with, built once from its config."""

    cfg: DictConfig
    run_dir: Path
    device: torch.device
    model: torch.nn.Module
    tokenizer: Callable
    bench: Benchmark
    task: UnlearningTask
    evaluator: Evaluator  # the full test sets (before, after, audit)
    stage_evaluator: Evaluator  # a method's intermediate states (eval.stage_cap)
    logger: Any
    undecodable: dict[str, int]  # images left out per set (dataset.skip_bad_images)

    @property
    def forget(self) -> Any:
        """The forget spec a method gets; None in a job with requests (unlearn/requests.py: each has its own)."""
        return None if self.cfg.requests else self.cfg.forget

    def metric_context(self, before: dict[str, float]) -> MetricContext:
        return MetricContext(bench=self.bench, task=self.task, forget=requests.measured_specs(self.cfg),
                             tokenizer=self.tokenizer,
                             device=self.device, evaluator=self.evaluator, seed=self.cfg.seed,
                             batch_size=self.cfg.eval.batch_size, before=before)

    def method_context(self) -> UnlearnContext:
        return UnlearnContext(model=self.model, tokenizer=self.tokenizer, bench=self.bench, task=self.task,
                              cfg=self.cfg.method, device=self.device, seed=self.cfg.seed, logger=self.logger,
                              evaluate=self.stage_evaluator, run_dir=self.run_dir,
                              backbone=self.cfg.backbone, forget=self.forget)

    def prepared(self, task: UnlearningTask) -> UnlearningTask:
        return prepare(task, self.cfg, self.undecodable)


def prepare(task: UnlearningTask, cfg: DictConfig, undecodable: dict[str, int]) -> UnlearningTask:
    """A task as a job uses it: undecodable images left out (dataset.skip_bad_images, added to
    `undecodable`), small sets cached."""
    if cfg.dataset.skip_bad_images:
        with cost.phase("check_images"):
            task, dropped = without_undecodable(task)
        if dropped:
            log.warning("left out images that cannot be decoded: %s", dropped)
        for name, count in dropped.items():
            undecodable[name] = undecodable.get(name, 0) + count
    with cost.phase("cache_data"):
        return cached_task(task, cfg.cache)


def check_config(cfg: DictConfig) -> None:
    """Mandatory values set, every value in its range, no key a schema lacks: one line, before any work."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise UnlearnError(f"missing mandatory value(s): {', '.join(missing)}; set them as overrides, e.g. {missing[0]}=...")
    errors = config_errors(cfg)
    if errors:
        raise UnlearnError("; ".join(errors))
    measured(cfg).check(objective=cfg.objective)
    audited(cfg).check()
    requests.check(cfg)
    reference = audit.reference_backbone(cfg)
    if reference is not None and cfg.audit.reference != "retrain" and not Path(cfg.audit.reference).is_file():
        raise UnlearnError(f"audit.reference={cfg.audit.reference}: no such checkpoint (valid: retrain, or a checkpoint path)")


def measured(cfg: DictConfig) -> MetricSuite:
    """What before and after measure, and the aggregates of the two."""
    return MetricSuite(cfg.eval.metrics, "eval.metrics")


def audited(cfg: DictConfig) -> MetricSuite:
    """What the audit measures on the original, unlearned and reference models."""
    return MetricSuite(cfg.audit.metrics, "audit.metrics")


def wandb_group(cfg: DictConfig) -> str | None:
    """One W&B group per sweep: the experiment preset's name, else the sweep folder's name
    (single runs outside an experiment: no group)."""
    if cfg.experiment:
        return cfg.experiment
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().sweep.dir).name
    return None


def build_job(cfg: DictConfig, run_dir: Path) -> Job:
    configure_threads(cfg.num_threads)
    seed_everything(cfg.seed)
    device = select_device(cfg.device)
    model, tokenizer = build_backbone(cfg.backbone)
    cost.METER.reset()
    reset_refusals()
    check_files(cfg.cache.verify)
    cost.count_encodes(image_tower(model))
    transform = eval_transform(model)  # real datasets are preprocessed as the backbone expects
    with cost.phase("load_data"), file_index(cache_dir(cfg.cache) / "index" if cfg.cache.file_index else None):
        bench = build_benchmark(cfg.dataset, transform=transform)
        add_zeroshot_suites(bench, cfg.eval.zeroshot, transform)
    undecodable: dict[str, int] = {}
    task = prepare(requests.job_task(bench, cfg), cfg, undecodable)
    model = model.to(device)
    store = None
    if cfg.cache.features:
        store = FeatureStore(cache_dir(cfg.cache) / "features",
                             run_context(cfg.backbone.arch, device, str(autocast_dtype(device, cfg.eval.precision)),
                                         cfg.eval.batch_size))
    evaluator = Evaluator(bench, task, tokenizer, device, cfg.eval.batch_size, cfg.eval.precision, store)
    evaluator.keep_on_disk(model)
    logger = build_logger(cfg.logger, run_dir, OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
                          name=run_dir.name, group=wandb_group(cfg), job_type=cfg.method.name)
    return Job(cfg, run_dir, device, model, tokenizer, bench, task, evaluator,
               evaluator.on(stage_task(task, cfg.eval.stage_cap)), logger, undecodable)


def execute(cfg: DictConfig, run_dir: Path) -> float:
    """Run one job in `run_dir`, or skip it when the folder already holds its complete result
    (resume) or another live process is working in it. Results of an earlier attempt are set
    aside first, never overwritten."""
    cfg = requests.expanded(cfg)  # each request's spec, not its name, determines the result
    digest = config_hash(cfg)
    try:
        held = claim(run_dir)
    except OSError as err:
        raise UnlearnError(f"cannot work in the run folder {run_dir} ({err.strerror or err})") from None
    if held is None:
        return left_to_its_owner(run_dir, digest)
    with held:
        done = completed_metrics(run_dir, digest) if cfg.resume else None
        if done and (not cfg.save_checkpoint or (run_dir / "model.pt").is_file()):
            log.info("skipping %s: complete metrics.json with the same config found", run_dir)
            settle(run_dir, "complete", digest, skipped=True)
            return done[cfg.objective]
        earlier = read_json(run_dir / "status.json")
        if isinstance(earlier, dict) and earlier.get("status") == "running":  # we hold the folder: its owner is gone
            log.warning("the earlier attempt in %s (%s) ended without recording it; running the job again",
                        run_dir, describe_owner(earlier.get("owner")))
        with job_slot(cfg):  # hydra/launcher=local starts every job at once; at most local_parallelism work
            return attempt(cfg, run_dir, digest)


def left_to_its_owner(run_dir: Path, digest: str) -> float:
    """Another process holds the job folder: a sweep moves on (its summary counts the job as
    running elsewhere); a single run stops with one line."""
    owner = lock_owner(run_dir)
    message = f"another process ({describe_owner(owner)}) is running the job in {run_dir}"
    if not (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN):
        raise UnlearnError(f"{message}; wait for it, or run into another folder")
    log.warning("skipping: %s", message)
    record_launch(run_dir, {"status": "elsewhere", "config_hash": digest, "owner": owner})
    return float("nan")


STORAGE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)  # the disk under a file the job writes is full or read-only


def attempt(cfg: DictConfig, run_dir: Path, digest: str) -> float:
    """Run the job in `run_dir`, with its status from start to end."""
    if aside := set_aside(run_dir):
        log.info("moved the results of an earlier attempt to %s", aside)
    try:
        write_status(run_dir, "running", digest)
    except OSError as err:
        raise UnlearnError(f"cannot write status.json in {run_dir} ({err.strerror or err}); nothing was run") from None
    job = None
    try:
        with interruptible():
            check_config(cfg)
            method = METHODS.get(cfg.method.name)
            job = build_job(cfg, run_dir)
            if requests.in_sequence(cfg):
                result = measure_sequence(job, method.run, digest)
            else:
                result = unlearn_and_measure(job, method.run)
            result = replace(result, config_hash=digest)
            write_results(cfg, job, result)
        job.logger.finish()
        return result.aggregates[cfg.objective]
    except (Interrupted, KeyboardInterrupt, SystemExit) as err:
        # preemption, a time limit, Ctrl-C, or a launcher's requeue: the next sweep runs this job again
        cause = err.signal if isinstance(err, Interrupted) else type(err).__name__
        settle(run_dir, "interrupted", digest, signal=cause)
        log.error("interrupted by %s; the job runs again on the next launch of this sweep", cause)
        if job is not None:
            finish_after_failure(job)
        if isinstance(err, Interrupted):
            raise SystemExit(128 + err.signum) from None  # the shell's convention for "killed by signal N"
        raise
    except BaseException as err:
        settle(run_dir, "failed", digest, error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
        if job is not None:
            finish_after_failure(job)
        if isinstance(err, OSError) and err.errno in STORAGE_ERRORS:  # a full disk, wherever the job was writing
            raise UnlearnError(f"cannot write {err.filename or 'a file'} ({err.strerror}); the job stopped, and "
                               f"nothing in {run_dir} says complete") from None
        raise


def finish_after_failure(job: Job) -> None:
    """The logger's end after an interruption or a failure. Its own error must not replace why the
    job ended: Slurm signals every process of a job, W&B's service included, which is then gone."""
    try:
        job.logger.finish(failed=True)
    except Exception as err:  # noqa: BLE001 - whatever the logger raises, the job's end stands
        log.warning("the logger could not finish its run (%s: %s)", type(err).__name__, err)


def write_results(cfg: DictConfig, job: Job, result: RunResult) -> None:
    """The checkpoint (when asked for), metrics.json, then status `complete`; one line when the
    run folder refuses them (a full disk), and nothing there says complete."""
    try:
        if cfg.save_checkpoint:
            save_checkpoint(job.run_dir / "model.pt", job.model.state_dict(), cfg.backbone.arch,
                            model_flags(cfg.backbone))
        write_metrics(job.run_dir, result.to_json())
        write_status(job.run_dir, "complete", result.config_hash)
    except OSError as err:
        (job.run_dir / "metrics.json").unlink(missing_ok=True)  # not without its complete status
        raise UnlearnError(f"cannot write the results in {job.run_dir} ({err.strerror or err}); "
                           "the job's results are lost") from None


def settle(run_dir: Path, status: str, digest: str, **details) -> None:
    """write_status, or when the folder refuses it (a full disk), one line on stderr: status.json
    then still says what it said, and a `running` there reads `interrupted` once this process is gone."""
    try:
        write_status(run_dir, status, digest, **details)
    except OSError as err:
        print(f"unlearn: cannot record status {status!r} in {run_dir / 'status.json'} ({err.strerror or err})",
              file=sys.stderr, flush=True)


class Interrupted(BaseException):
    """A termination signal arrived (SIGTERM: Slurm's preemption and time limit; SIGINT; SIGUSR1)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.signal = signum, signal.Signals(signum).name


INTERRUPTING_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


@contextlib.contextmanager
def interruptible():
    """Turn INTERRUPTING_SIGNALS into `Interrupted` while the job works, so that its status says so
    before the process ends, and likewise SIGUSR2 in a submitit job once submitit's own handler has
    asked Slurm to requeue the job (when it does not, its error fails the job). Handlers can only be
    set in the main thread; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Interrupted(signum)

    handlers = dict.fromkeys(INTERRUPTING_SIGNALS, interrupt)
    submitit_requeue = signal.getsignal(signal.SIGUSR2)
    if callable(submitit_requeue):  # a submitit job: Slurm's warning before a time limit or a preemption

        def requeue(signum, frame):
            try:
                submitit_requeue(signum, frame)  # checkpoints, asks Slurm to requeue the job, then exits
            except SystemExit:
                raise Interrupted(signum) from None

        handlers[signal.SIGUSR2] = requeue
    previous = {s: signal.signal(s, handler) for s, handler in handlers.items()}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def unlearn_and_measure(job: Job, run_method: Callable[[UnlearnContext], None]) -> RunResult:
    cfg, evaluator, logger = job.cfg, job.evaluator, job.logger
    suite, audit_suite = measured(cfg), audited(cfg)
    start = time.perf_counter()
    with cost.phase("before_eval"):
        before = suite.measure(job.metric_context({}), job.model)
        per_class_before = evaluator(job.model)[1]  # features and heads cached: no second pass
    eval_s = time.perf_counter() - start
    logger.log({f"before/{k}": v for k, v in before.items()}, step=0)
    log.info("before: %s", _fmt(before))
    mctx = job.metric_context(before)
    audits: dict[str, dict] = {}  # model -> its audit measurements (RunResult.audit)
    tow = None
    if audit_suite:
        with cost.phase("audit_original"):
            audits["original"] = audit_suite.measure(mctx, job.model)

    ctx = job.method_context()
    unlearn_s = unlearn_timed(run_method, ctx)

    start = time.perf_counter()
    with cost.phase("after_eval"):
        after = suite.measure(mctx, job.model)
        per_class_after = evaluator(job.model)[1]
    eval_s += time.perf_counter() - start
    log.info("after:  %s", _fmt(after))
    if audit_suite:
        audits, tow = audit_unlearned(job, mctx, audit_suite, after, audits)

    aggregates = suite.aggregate(before, after)
    result = run_result(cfg, requests.forget_name(cfg), before, after, aggregates, audit=audits, tow=tow,
                        stages=ctx.stage_metrics, summary=ctx.summaries, unlearn_s=unlearn_s, eval_s=eval_s,
                        cost=cost.METER.as_metrics(),
                        undecodable=job.undecodable if cfg.dataset.skip_bad_images else None)
    logger.log({f"after/{k}": v for k, v in after.items()} | numeric_leaves(aggregates), step=ctx._step)
    logger.table("per_class_accuracy", ["class", "before", "after"],
                 [[c, per_class_before[c], per_class_after[c]] for c in per_class_before])
    if audit_suite:
        logger.table("relearn_curve", ["model", "steps", "forget_acc", "others_acc"], audit.relearn_curve(audits))
    logger.summary(numeric_leaves(result.to_json()))  # W&B carries every number metrics.json carries
    log.info("%s  unlearn %.1fs  eval %.1fs", "  ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in aggregates.items()
                                                       if isinstance(v, float)), unlearn_s, eval_s)
    return result


def measure_sequence(job: Job, run_method: Callable[[UnlearnContext], None], digest: str) -> RunResult:
    """Sequential requests (unlearn/requests.py): the last request's measurement at the top, each
    request's under `requests`."""
    cfg, suite, audit_suite = job.cfg, measured(job.cfg), audited(job.cfg)

    def measure(task: UnlearningTask, model: torch.nn.Module, before: dict) -> dict:
        mctx = replace(job.metric_context(before), task=task, evaluator=job.evaluator.on(task))
        return suite.measure(mctx, model)

    def result_of(forget: str, before: dict, after: dict, **fields) -> RunResult:
        return run_result(cfg, forget, before, after, suite.aggregate(before, after), **fields)

    audits: dict[str, dict] = {}
    if audit_suite:  # the original's audit, against every request (job.task: their union)
        with cost.phase("audit_original"):
            audits["original"] = audit_suite.measure(job.metric_context(measure(job.task, job.model, {})), job.model)
    done = requests.run_sequential(job, run_method, digest, measure, result_of)
    last = done[str(len(done))]
    tow = None
    if audit_suite:
        audits, tow = audit_unlearned(job, job.metric_context(last.before), audit_suite, last.after, audits)
    total = {key: sum(getattr(r, key) or 0.0 for r in done.values()) for key in ("unlearn_s", "eval_s")}
    result = replace(last, forget=requests.forget_name(cfg), stages={}, summary={}, cost=cost.METER.as_metrics(),
                     undecodable=job.undecodable if cfg.dataset.skip_bad_images else None, requests=done,
                     audit=audits, tow=tow, **total)
    job.logger.summary(numeric_leaves(result.to_json()))
    log.info("after %d requests: %s", len(done), "  ".join(
        f"{k.replace('_', ' ')} {v:.2f}" for k, v in result.aggregates.items() if isinstance(v, float)))
    return result


def run_result(cfg: DictConfig, forget: str, before: dict, after: dict, aggregates: dict, **fields) -> RunResult:
    """A job's result record from its measurements; the method's row placement from its registry entry."""
    display = METHODS.get(cfg.method.name).extras
    return RunResult(method=cfg.method.name, forget=forget, backbone=cfg.backbone.name, dataset=cfg.dataset.name,
                     seed=cfg.seed, before=before, after=after, aggregates=aggregates,
                     method_rank=display.get("rank", DEFAULT_METHOD_RANK),
                     method_label=requests.label(display.get("label") or cfg.method.name, cfg), **fields)


def audit_unlearned(job: Job, mctx: MetricContext, audit_suite: MetricSuite, after: dict,
                    audits: dict[str, dict]) -> tuple[dict[str, dict], float | None]:
    """`audits` with the unlearned model's audit, and the reference's with the gaps to it when one
    is set; and ToW (None without a reference)."""
    with cost.phase("audit_unlearned"):
        audits = audits | {"unlearned": audit_suite.measure(mctx, job.model)}
    reference = audit.reference_model(job.cfg, job.device)
    if reference is None:
        return audits, None
    cost.count_encodes(image_tower(reference))
    with cost.phase("audit_reference"):
        own = measured(job.cfg).measure(mctx, reference)
        theirs = own | audit_suite.measure(mctx, reference)  # its eval metrics too: the gaps cover them
    log.info("reference: %s", _fmt(own))
    gaps, tow = audit.compare(after, audits["unlearned"], theirs)
    depths = audit.depth(mctx.before | audits["original"], after | audits["unlearned"], theirs, job.cfg.audit.min_gap)
    return audits | {"reference": theirs, "gap": gaps, "depth": depths}, tow


def _fmt(metrics: dict[str, float]) -> str:
    """Accuracies in %, every other value in its own units."""
    return "  ".join(f"{k.removesuffix('/acc')} {100 * v:.1f}" if k.endswith("/acc") else f"{k} {v:.4g}"
                     for k, v in metrics.items() if isinstance(v, float))
