"""Fixtures for the method tests: the debug preset's benchmark and task, built once, and
method contexts around a fresh tiny model."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import DEBUG, compose_config
from unlearn.data import build_benchmark
from unlearn.data.tasks import build_task
from unlearn.loggers import NullLogger
from unlearn.methods.base import UnlearnContext
from unlearn.models.backbones import build_backbone
from unlearn.models.factory import eval_transform


@pytest.fixture(scope="session")
def debug_benchmark():
    """(config, tokenizer, benchmark, task) of the debug preset."""
    cfg = compose_config(*DEBUG)
    model, tokenizer = build_backbone(cfg.backbone)
    bench = build_benchmark(cfg.dataset, transform=eval_transform(model))
    return cfg, tokenizer, bench, build_task(bench, cfg.forget, cfg.task, cfg.seed)


@pytest.fixture
def method_ctx(debug_benchmark):
    """method_ctx(name, task=None, **method overrides) -> a context on a fresh tiny_rn with the
    method's debug config (max_steps=2); its evaluate is a stand-in (no test here compares it)."""

    def make(name: str, task=None, **overrides) -> UnlearnContext:
        cfg, tokenizer, bench, debug_task = debug_benchmark
        method_cfg = compose_config(*DEBUG, f"method={name}", *(f"method.{k}={v}" for k, v in overrides.items())).method
        return UnlearnContext(model=build_backbone(cfg.backbone)[0], tokenizer=tokenizer, bench=bench,
                              task=task or debug_task, cfg=method_cfg, device=torch.device("cpu"), seed=cfg.seed,
                              logger=NullLogger(), evaluate=lambda m: ({}, {}))

    return make
