"""Deletion requests, one after another: `requests=[<forget preset>, ...]` and `mode=sequential|batch`.

| mode         | the method runs            | request i starts from                         | its forget set    | its retain set                                  | "the original" a method uses |
|--------------|----------------------------|-----------------------------------------------|-------------------|-------------------------------------------------|------------------------------|
| `sequential` | once per request, in order | the model request i−1 left (i = 1: the original) | request i's images | its spec's retain images under none of requests 1..i | the model before request i   |
| `batch`      | once                       | the original                                  | every request's images | retain images of some request, under none  | the original                 |

"The original" is `UnlearnContext.original`, a frozen copy of the model the method starts from:
three-stage's soup anchor and distillation teacher, SCRUB's teacher, every distillation target;
space adaptation, EMMN, Lipschitz and mask_name read the model they are given when they start.
So no request's step pulls the model back towards a state before an earlier request. Whole
classes an earlier request forgot are never among the classes a method keeps
(`UnlearningTask.forgotten_classes`).

**Measured**, on one task for the whole job (the union of every request, unlearn/data/tasks.py
`union_task`), after every request (sequential) or once (batch): `forget/<j>/acc` each request's
own forget images (every j, so a later request's effect on an earlier one shows), `forget/acc`
requests 1..i together, `retain/acc` images under no request, `others/acc`, every zero-shot
suite; the aggregates against the original measured with the same sets. metrics.json holds the
last request's measurement as its `before`/`after`/aggregates and each request's under
`requests/<i>/` (`RunResult.requests`); W&B logs them as `requests/...` against the step metric
`request` (0: the original).

**Resume**: after request i its model is saved as `requests/<i>/model.pt` (the previous one's is
then deleted) and its measurement as `requests/<i>/result.json`, with the config hash; a later
launch of the same config continues after the last saved request. A request that fails ends the
job with one line naming it; what the requests before it saved stays.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf, ValidationError

from unlearn import cost
from unlearn.config.schema import ForgetConfig, RequestMode
from unlearn.data.tasks import UnlearningTask, build_task, stage_task, union_task
from unlearn.errors import UnlearnError, choices
from unlearn.io import write_json
from unlearn.methods import METHODS
from unlearn.methods.base import UnlearnContext, unlearn_timed
from unlearn.models.checkpoint import load_checkpoint, save_checkpoint
from unlearn.models.factory import model_flags
from unlearn.results import NotAResult, RunResult
from unlearn.rundir import numeric_leaves, read_json

Job = Any  # unlearn.run.Job (which imports this module)

log = logging.getLogger(__name__)

STATE_DIR = "requests"  # in the run folder: requests/<i>/result.json and the newest requests/<i>/model.pt
STEP_METRIC = "request"  # W&B's x-axis of the per-request measurements


# ---------------------------------------------------------------- the config

def expanded(cfg: DictConfig) -> DictConfig:
    """`cfg` with every item of `requests` a validated forget node (a preset's name composed as
    `forget=<name>` would be); one line naming the first bad item and the valid choices."""
    if not cfg.requests:
        return cfg
    items = [_spec(item, f"requests[{i}]") for i, item in enumerate(cfg.requests)]
    cfg = copy.deepcopy(cfg)
    cfg.requests = items
    return cfg


def _spec(item: Any, where: str) -> DictConfig:
    if isinstance(item, str):
        return _preset(item, where)
    try:
        return OmegaConf.merge(OmegaConf.structured(ForgetConfig), item)
    except ValidationError as err:
        key = f".{err.full_key}" if err.full_key else ""
        raise UnlearnError(f"{where}{key}: {err.msg.splitlines()[0]}; a request is a forget preset's name, or "
                           "{name, kind, classes, attributes}") from None


def _preset(name: str, where: str) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import MissingConfigException

    from unlearn.config.setup import CONF_DIR

    def load() -> DictConfig:
        options = GlobalHydra.instance().config_loader().get_group_options("forget")
        if name not in options:
            raise UnlearnError(f"{where}={name}: no such forget preset; valid: {choices(sorted(options))}")
        try:
            return compose(config_name=f"forget/{name}").forget
        except MissingConfigException as err:
            raise UnlearnError(f"{where}={name}: {err}") from None

    if GlobalHydra.instance().is_initialized():  # inside python -m unlearn (and its sweep workers)
        return load()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):  # a config composed in-process
        return load()


def specs(cfg: DictConfig) -> list[DictConfig]:
    """What the job forgets: its requests (expanded), else its one forget spec."""
    return list(cfg.requests) or [cfg.forget]


def measured_specs(cfg: DictConfig):
    """What the job's measurements read as its forget spec: the spec, or the list of requests (the
    audit's metrics take either, unlearn/data/tasks.py `spec_masks`)."""
    return list(cfg.requests) if cfg.requests else cfg.forget


def forget_name(cfg: DictConfig) -> str:
    """The forget column of the job's results: the requests' names joined by '+', in order."""
    return "+".join(spec.name for spec in specs(cfg))


def check(cfg: DictConfig) -> None:
    """Before any work: the method can forget every spec (and take requests, when there are any)."""
    method = METHODS.get(cfg.method.name)
    if cfg.requests and method.extras.get("requests", True) is False:
        takers = [n for n, e in METHODS.load().items() if e.extras.get("requests", True) is not False]
        raise UnlearnError(f"method={method.name} forgets one spec per job and cannot take requests; valid: {choices(takers)}")
    if method.extras.get("forgets") != "whole_classes":
        return
    for where, spec in ([(f"requests[{i}]", s) for i, s in enumerate(cfg.requests)] or [("forget", cfg.forget)]):
        if spec.attributes:
            able = [n for n, e in METHODS.load().items() if e.extras.get("forgets") != "whole_classes"]
            raise UnlearnError(f"method={method.name} forgets whole classes only; {where}={spec.name} is a part of "
                               f"its class (kind {spec.kind}, its siblings share the name); valid: a class spec, or "
                               f"method {choices(able)}")


def job_task(bench, cfg: DictConfig) -> UnlearningTask:
    """The task a job is measured on (and a batch job trains on)."""
    if cfg.requests:
        return union_task(bench, specs(cfg), cfg.task, cfg.seed)
    return build_task(bench, cfg.forget, cfg.task, cfg.seed)


def in_sequence(cfg: DictConfig) -> bool:
    return bool(cfg.requests) and cfg.mode == RequestMode.sequential


def label(method_label: str, cfg: DictConfig) -> str:
    return f"{method_label} ({cfg.mode})" if cfg.requests else method_label


# ---------------------------------------------------------------- the sequential job

def after_request(task: UnlearningTask, i: int) -> UnlearningTask:
    """The job's measurement task as it stands after request i: `forget` is requests 1..i."""
    so_far = np.logical_or.reduce([task.test_masks[f"forget/{j}"] for j in range(1, i + 1)])
    return replace(task, test_masks=task.test_masks | {"forget": so_far})


Measure = Callable[[UnlearningTask, torch.nn.Module, dict], dict]  # (task, model, before) -> eval.metrics


def run_sequential(job: Job, run_method: Callable[[UnlearnContext], None], digest: str, measure: Measure,
                   result_of: Callable[..., RunResult]) -> dict[str, RunResult]:
    """Every request in turn on `job.model`, resuming after the last one an earlier attempt of
    this config saved; request index (str, 1-based) -> its result (module docstring)."""
    cfg, requests = job.cfg, specs(job.cfg)
    state = job.run_dir / STATE_DIR
    done = saved(state, digest, len(requests)) if cfg.resume else {}
    if not done and state.exists():
        aside = job.run_dir / "superseded" / f"{time.strftime('%Y%m%d-%H%M%S')}_{STATE_DIR}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        os.replace(state, aside)
        log.info("moved the request states of another config (or of resume=false) to %s", aside)
    for folder in state.glob("*"):  # a request after the last saved one that did not finish saving
        if folder.is_dir() and folder.name.isdigit() and int(folder.name) > len(done):
            shutil.rmtree(folder)
    tasks = [after_request(job.task, i) for i in range(1, len(requests) + 1)]
    with cost.phase("before_eval"):
        befores = [measure(task, job.model, {}) for task in tasks]  # the original; its features are encoded once
    job.logger.step_metric(STEP_METRIC, f"{STATE_DIR}/*")
    # each request's row at a step of its own: W&B merges what is logged at one step
    job.logger.log({STEP_METRIC: 0} | {f"{STATE_DIR}/after/{k}": v for k, v in numeric_leaves(befores[-1]).items()},
                   step=0)
    step = 1
    if done:
        last = len(done)
        job.model.load_state_dict(load_checkpoint(state / str(last) / "model.pt")[0])
        log.info("resuming after request %d of %d (%s): its model and requests 1-%d's results are in %s",
                 last, len(requests), requests[last - 1].name, last, state)
        for i, result in done.items():
            log_request(job, int(i), result, step)
            step += 1
    for i, spec in enumerate(requests, 1):
        if str(i) in done:
            continue
        log.info("request %d of %d: %s", i, len(requests), spec.name)
        try:
            result, step = honour(job, run_method, i, step, tasks[i - 1], befores[i - 1], measure, result_of)
        except UnlearnError as err:
            raise UnlearnError(f"request {i} of {len(requests)} ({spec.name}) failed: {err}; {kept(i, state)}") from None
        except Exception:
            log.error("request %d of %d (%s) failed; %s, and the next launch of this config continues at request %d",
                      i, len(requests), spec.name, kept(i, state), i)
            raise
        save(state, i, replace(result, config_hash=digest), job)
        done[str(i)] = result
        log_request(job, i, result, step)
        step += 1
    return done


def kept(i: int, state: Path) -> str:
    """What a failure at request i leaves, in words."""
    if i == 1:
        return "no request was saved"
    return f"request 1 is saved in {state}" if i == 2 else f"requests 1-{i - 1} are saved in {state}"


def honour(job: Job, run_method: Callable, i: int, step: int, measured: UnlearningTask, before: dict,
           measure: Measure, result_of: Callable[..., RunResult]) -> tuple[RunResult, int]:
    """Request i on job.model: its result, and the logger's step after it."""
    cfg, requests = job.cfg, specs(job.cfg)
    with cost.phase("load_data"):
        task = job.prepared(build_task(job.bench, requests[i - 1], cfg.task, cfg.seed, exclude=requests[:i - 1]))
    ctx = replace(job.method_context(), task=task, forget=requests[i - 1],
                  evaluate=job.evaluator.on(stage_task(task, cfg.eval.stage_cap)))
    ctx._step = step
    unlearn_s = unlearn_timed(run_method, ctx)
    start = time.perf_counter()
    with cost.phase("after_eval"):
        after = measure(measured, job.model, before)
    log.info("after request %d: %s", i, "  ".join(
        f"{k.removesuffix('/acc')} {100 * v:.1f}" for k, v in after.items() if k.endswith("/acc") and isinstance(v, float)))
    return result_of(forget=requests[i - 1].name, before=before, after=after, stages=ctx.stage_metrics,
                     summary=ctx.summaries, unlearn_s=unlearn_s, eval_s=time.perf_counter() - start), ctx._step


def log_request(job: Job, i: int, result: RunResult, step: int) -> None:
    """Request i's measurement and aggregates, against the step metric `request`."""
    job.logger.log({STEP_METRIC: i} | {f"{STATE_DIR}/{k}": v for k, v in numeric_leaves(
        {"after": result.after, **result.aggregates, "time/unlearn_s": result.unlearn_s}).items()}, step=step)


def save(state: Path, i: int, result: RunResult, job: Job) -> None:
    """Request i's model, then its result (what says the request is complete), then the previous
    request's model goes."""
    folder = state / str(i)
    save_checkpoint(folder / "model.pt", job.model.state_dict(), job.cfg.backbone.arch, model_flags(job.cfg.backbone))
    write_json(folder / "result.json", result.to_json())
    (state / str(i - 1) / "model.pt").unlink(missing_ok=True)


def saved(state: Path, digest: str, count: int) -> dict[str, RunResult]:
    """The results of requests 1..k an earlier attempt of this config saved, k the last one whose
    model is there too."""
    done: dict[str, RunResult] = {}
    for i in range(1, count + 1):
        record = read_json(state / str(i) / "result.json")
        if not isinstance(record, dict) or record.get("config_hash") != digest:
            break
        try:
            done[str(i)] = RunResult.from_json(record)
        except NotAResult:
            break
    while done and not (state / str(len(done)) / "model.pt").is_file():
        done.pop(str(len(done)))
    return done
