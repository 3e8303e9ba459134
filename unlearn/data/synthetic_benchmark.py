"""The synthetic world as a Benchmark: train/calib/test pools and held-out zero-shot suites."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from unlearn.data import synthetic
from unlearn.data.base import Benchmark, ImageSet, ZeroShotSuite
from unlearn.data.transforms import normalize_uint8
from unlearn.errors import UnlearnError, choices


def _image_set(samples: synthetic.Samples) -> ImageSet:
    images = normalize_uint8(torch.from_numpy(samples.images))
    return ImageSet(TensorDataset(images, torch.from_numpy(samples.labels)), samples.labels, samples.attributes)


def build_synthetic(cfg) -> Benchmark:
    unknown = set(cfg.zeroshot_suites) - set(synthetic.ZEROSHOT_SUITES)
    if unknown:
        raise UnlearnError(
            f"unknown synthetic zero-shot suite(s) {choices(sorted(unknown))}; valid: {choices(synthetic.ZEROSHOT_SUITES)}"
        )
    seed, size = cfg.world_seed, cfg.image_size
    main = synthetic.suite_combos("main")
    # distinct seeds per pool: no image is shared between train, calib and test
    pools = {
        "train": synthetic.sample_pool(main, cfg.train_per_combo, seed + 1, size),
        "calib": synthetic.sample_pool(main, cfg.calib_per_combo, seed + 2, size),
        "test": synthetic.sample_pool(main, cfg.test_per_combo, seed + 3, size),
    }
    classnames = list(synthetic.SHAPES)
    suites = {
        name: ZeroShotSuite(
            _image_set(synthetic.sample_pool(synthetic.suite_combos(name), cfg.suite_per_combo, seed + 10 + i, size)),
            classnames, list(cfg.templates),
        )
        for i, name in enumerate(cfg.zeroshot_suites)
    }
    return Benchmark(
        name="synthetic",
        classnames=classnames,
        templates=list(cfg.templates),
        train_templates=list(cfg.train_templates),
        train=_image_set(pools["train"]),
        calib=_image_set(pools["calib"]),
        test=_image_set(pools["test"]),
        zeroshot=suites,
        attribute_values=dict(synthetic.ATTRIBUTE_VALUES),
    )
