"""Dataset registry: `dataset.format` names the loader.

Every real-data format has one loader `(cfg, transform, with_train) -> LoadedData`; the same
loader serves as the main benchmark and, reading only its test split, as a zero-shot suite
listed under `eval.zeroshot`.
"""

from __future__ import annotations

from typing import Callable

from unlearn.data.base import Benchmark, ZeroShotSuite
from unlearn.errors import UnlearnError, choices


def _loaders() -> dict[str, Callable]:
    from unlearn.data.arrays import load_cifar, load_stl10
    from unlearn.data.file_lists import load_food101, load_split_json
    from unlearn.data.folders import load_class_folder, load_imagenet, load_imagenet_r, load_style_folder

    return {
        "cifar10": load_cifar, "cifar100": load_cifar, "stl10": load_stl10, "food101": load_food101,
        "imagenet": load_imagenet, "style_folder": load_style_folder, "imagenet_r": load_imagenet_r,
        "split_json": load_split_json, "class_folder": load_class_folder,
    }


FOUNDATION_FORMATS = ("synthetic", "image_folder")


def _unknown_format(fmt: str) -> UnlearnError:
    return UnlearnError(f"unknown dataset format {fmt!r}; valid: {choices(FOUNDATION_FORMATS + tuple(_loaders()))}")


def _transform(transform: Callable | None) -> Callable:
    from unlearn.data.images import default_transform

    return transform or default_transform()


def build_benchmark(cfg, transform: Callable | None) -> Benchmark:
    """The dataset of a config; `transform` is the backbone's evaluation preprocessing (real
    datasets fall back to CLIP's 224-pixel one when it is None; synthetic ignores it)."""
    from unlearn.data.image_folder import build_image_folder
    from unlearn.data.images import split_calib
    from unlearn.data.synthetic_benchmark import build_synthetic

    if cfg.format == "synthetic":
        return build_synthetic(cfg)
    if cfg.format == "image_folder":
        return build_image_folder(cfg, _transform(transform))
    if cfg.format not in _loaders():
        raise _unknown_format(cfg.format)
    data = _loaders()[cfg.format](cfg, _transform(transform), True)
    train, calib = (data.train, data.calib) if data.calib is not None else split_calib(data.train, cfg.calib_fraction, cfg.split_seed)
    return Benchmark(
        name=cfg.name,
        classnames=data.classnames,
        templates=list(cfg.templates),
        train_templates=list(cfg.train_templates),
        train=train,
        calib=calib,
        test=data.test,
        zeroshot={},
        attribute_values=data.attribute_values,
        groups=data.groups,
    )


def build_suite(cfg, transform: Callable | None) -> ZeroShotSuite:
    """A dataset config's test split as a zero-shot suite (an 'unseen data' column)."""
    if cfg.format == "synthetic":
        raise UnlearnError("dataset format synthetic cannot be listed under eval.zeroshot; "
                           "its held-out suites are dataset.zeroshot_suites")
    if cfg.format == "image_folder":
        bench = build_benchmark(cfg, transform)
        return ZeroShotSuite(bench.test, bench.classnames, bench.templates)
    if cfg.format not in _loaders():
        raise _unknown_format(cfg.format)
    data = _loaders()[cfg.format](cfg, _transform(transform), False)
    return ZeroShotSuite(data.test, data.classnames, list(cfg.templates))


def add_zeroshot_suites(bench: Benchmark, suites: dict, transform: Callable | None) -> None:
    """Add the `eval.zeroshot` datasets to the benchmark's own suites (synthetic keeps its built-in ones)."""
    for name, cfg in suites.items():
        if name in bench.zeroshot:
            raise UnlearnError(f"eval.zeroshot.{name} clashes with a built-in suite of {bench.name}; rename it")
        bench.zeroshot[name] = build_suite(cfg, transform)
