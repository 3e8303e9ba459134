"""One unlearning job: measure the original model, unlearn, measure again, write the results.

The run folder holds `status.json` from the start (running → complete | failed) and
`metrics.json` only once everything succeeded, written atomically: a folder without a
complete metrics.json never looks like a finished run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from unlearn.data import add_zeroshot_suites, build_benchmark
from unlearn.data.tasks import build_task
from unlearn.errors import UnlearnError
from unlearn.evaluation import Evaluator
from unlearn.io import write_json
from unlearn.loggers import build_logger
from unlearn.methods import get_method
from unlearn.methods.base import UnlearnContext
from unlearn.metrics import score, score_components
from unlearn.models.backbones import build_backbone, eval_transform, model_flags
from unlearn.models.checkpoint import save_checkpoint
from unlearn.runtime import configure_threads, seed_everything, select_device

log = logging.getLogger(__name__)

# the parts of the config that determine the result (not logging or bookkeeping)
RESULT_KEYS = ("dataset", "backbone", "method", "forget", "eval", "seed")


def config_hash(cfg: DictConfig) -> str:
    resolved = {k: OmegaConf.to_container(cfg[k], resolve=True) if isinstance(cfg[k], DictConfig) else cfg[k]
                for k in RESULT_KEYS}
    return hashlib.sha1(json.dumps(resolved, sort_keys=True).encode()).hexdigest()[:12]


def wandb_group(cfg: DictConfig) -> str | None:
    """One W&B group per sweep: the experiment preset's name, else the sweep folder's name
    (single runs outside an experiment: no group)."""
    if cfg.experiment:
        return cfg.experiment
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().sweep.dir).name
    return None


def completed_metrics(run_dir: Path, digest: str) -> dict | None:
    """The metrics of an earlier complete run of the same config in this folder, if any."""
    path = run_dir / "metrics.json"
    if not path.is_file():
        return None
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return metrics if metrics.get("config_hash") == digest else None


def execute(cfg: DictConfig, run_dir: Path) -> float:
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise UnlearnError(f"missing mandatory value(s): {', '.join(missing)}; set them as overrides, e.g. {missing[0]}=...")
    digest = config_hash(cfg)
    if cfg.resume and (done := completed_metrics(run_dir, digest)):
        log.info("skipping %s: complete metrics.json with the same config found", run_dir)
        return done["score"]
    write_json(run_dir / "status.json", {"status": "running", "config_hash": digest})
    logger = None
    try:
        configure_threads(cfg.num_threads)
        seed_everything(cfg.seed)
        device = select_device(cfg.device)
        method = get_method(cfg.method.name)
        model, tokenizer = build_backbone(cfg.backbone)
        transform = eval_transform(model)  # real datasets are preprocessed as the backbone expects
        bench = build_benchmark(cfg.dataset, transform=transform)
        add_zeroshot_suites(bench, cfg.eval.zeroshot, transform)
        task = build_task(bench, cfg.forget, cfg.dataset, cfg.seed)
        model = model.to(device)
        evaluator = Evaluator(bench, task, tokenizer, device, cfg.eval.batch_size, cfg.eval.precision)
        logger = build_logger(
            cfg.logger, run_dir, OmegaConf.to_container(cfg, resolve=True), name=run_dir.name,
            group=wandb_group(cfg), job_type=cfg.method.name,
        )
        metrics = _unlearn_and_measure(cfg, method, model, tokenizer, bench, task, evaluator, device, logger, run_dir)
        metrics["config_hash"] = digest
        if cfg.save_checkpoint:
            save_checkpoint(run_dir / "model.pt", model.state_dict(), cfg.backbone.arch, model_flags(cfg.backbone))
        write_json(run_dir / "metrics.json", metrics)
        write_json(run_dir / "status.json", {"status": "complete", "config_hash": digest})
        logger.finish()
        return metrics["score"]
    except BaseException as err:
        write_json(run_dir / "status.json", {
            "status": "failed", "config_hash": digest, "error": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc(),
        })
        if logger is not None:
            logger.finish(failed=True)
        raise


def _unlearn_and_measure(cfg, method, model, tokenizer, bench, task, evaluator, device, logger, run_dir) -> dict:
    start = time.perf_counter()
    before, per_class_before = evaluator(model)
    eval_s = time.perf_counter() - start
    logger.log({f"before/{k}": v for k, v in before.items()}, step=0)
    log.info("before: %s", _fmt(before))

    ctx = UnlearnContext(model=model, tokenizer=tokenizer, bench=bench, task=task, cfg=cfg.method,
                         device=device, seed=cfg.seed, logger=logger, evaluate=evaluator, run_dir=run_dir,
                         backbone=cfg.backbone.name)
    seed_everything(cfg.seed)
    start = time.perf_counter()
    method.run(ctx)
    if device.type == "cuda":
        torch.cuda.synchronize()
    unlearn_s = time.perf_counter() - start

    start = time.perf_counter()
    after, per_class_after = evaluator(model)
    eval_s += time.perf_counter() - start
    log.info("after:  %s", _fmt(after))

    metrics = {
        "before": before,
        "after": after,
        "score": score(before, after),
        "score_components": score_components(before, after),
        "stages": ctx.stage_metrics,
        "time/unlearn_s": unlearn_s,
        "time/eval_s": eval_s,
        "method": cfg.method.name,
        "forget": cfg.forget.name,
        "backbone": cfg.backbone.name,
        "dataset": cfg.dataset.name,
        "seed": cfg.seed,
    }
    logger.log({f"after/{k}": v for k, v in after.items()} | {"score": metrics["score"]}, step=ctx._step)
    logger.table("per_class_accuracy", ["class", "before", "after"],
                 [[c, per_class_before[c], per_class_after[c]] for c in per_class_before])
    logger.summary({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    log.info("score %.2f  unlearn %.1fs  eval %.1fs", metrics["score"], unlearn_s, eval_s)
    return metrics


def _fmt(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k.removesuffix('/acc')} {100 * v:.1f}" for k, v in metrics.items())
