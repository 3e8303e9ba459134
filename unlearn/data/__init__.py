"""Datasets: a config's `format` names its loader in the registry (unlearn/data/formats/).

`build_benchmark` reads a dataset config into a Benchmark (train, calib and test pools plus its
built-in suites), `add_zeroshot_suites` adds the `eval.zeroshot` datasets' test splits as
suites, and `dataset_catalog` names a dataset's classes without its data.
"""

from __future__ import annotations

from typing import Callable

from unlearn.data.base import Benchmark, LoadedData, ZeroShotSuite
from unlearn.data.catalog import Catalog, preserve_names
from unlearn.data.formats import FORMATS
from unlearn.errors import UnlearnError


def _load(cfg, transform: Callable | None, with_train: bool) -> LoadedData:
    from unlearn.data.images import default_transform

    return FORMATS.get(cfg.format).run(cfg, transform or default_transform(), with_train)


def build_benchmark(cfg, transform: Callable | None) -> Benchmark:
    """The dataset of a config; `transform` is the backbone's evaluation preprocessing (real
    datasets fall back to CLIP's 224-pixel one when it is None; synthetic ignores it)."""
    from unlearn.data.images import split_calib

    data = _load(cfg, transform, with_train=True)
    train, calib = (data.train, data.calib) if data.calib is not None else split_calib(data.train, cfg.calib_fraction, cfg.split_seed)
    return Benchmark(
        name=cfg.name,
        classnames=data.classnames,
        templates=list(cfg.templates),
        train_templates=list(cfg.train_templates),
        train=train,
        calib=calib,
        test=data.test,
        zeroshot=dict(data.zeroshot),
        attribute_values=data.attribute_values,
        groups=data.groups,
        preserve_names=preserve_names(cfg.preserve_names) if cfg.preserve_names else [],
        audit_prompts={name: list(templates) for name, templates in cfg.audit_prompts.items()},
    )


def build_suite(cfg, transform: Callable | None) -> ZeroShotSuite:
    """A dataset config's test split as a zero-shot suite (an 'unseen data' column)."""
    data = _load(cfg, transform, with_train=False)
    return ZeroShotSuite(data.test, data.classnames, list(cfg.templates))


def add_zeroshot_suites(bench: Benchmark, suites: dict, transform: Callable | None) -> None:
    """Add the `eval.zeroshot` datasets to the benchmark's own suites (synthetic keeps its built-in ones)."""
    for name, cfg in suites.items():
        if name in bench.zeroshot:
            raise UnlearnError(f"eval.zeroshot.{name} clashes with a built-in suite of {bench.name}; rename it")
        bench.zeroshot[name] = build_suite(cfg, transform)


def dataset_catalog(cfg) -> Catalog:
    """Class names, attributes and groups of a dataset config, known without its data."""
    describe = FORMATS.get(cfg.format).extras.get("catalog")
    if describe is None:
        raise UnlearnError(f"dataset format {cfg.format!r} has no class list without its data")
    return describe(cfg)
