"""The embedded benchmark as a dataset format: the synthetic world's train/calib/test pools and
its held-out zero-shot suites (unlearn/data/synthetic.py renders them; no download)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch.utils.data import TensorDataset

from unlearn.config.ranges import at_least
from unlearn.config.schema import DatasetConfig
from unlearn.data import catalog, synthetic
from unlearn.data.base import ImageSet, LoadedData, ZeroShotSuite
from unlearn.data.formats import FORMATS
from unlearn.data.transforms import normalize_uint8
from unlearn.errors import UnlearnError, choices


@dataclass
class SyntheticDatasetConfig(DatasetConfig):
    world_seed: int = at_least(0, 1234)
    image_size: int = at_least(8, 32)
    train_per_combo: int = at_least(1, 8)  # images per shape × colour × style combination in each pool
    calib_per_combo: int = at_least(1, 2)
    test_per_combo: int = at_least(1, 16)
    suite_per_combo: int = at_least(1, 8)
    zeroshot_suites: list[str] = field(default_factory=lambda: list(synthetic.ZEROSHOT_SUITES))


def _image_set(samples: synthetic.Samples) -> ImageSet:
    images = normalize_uint8(torch.from_numpy(samples.images))
    return ImageSet(TensorDataset(images, torch.from_numpy(samples.labels)), samples.labels, samples.attributes)


def _catalog(cfg) -> catalog.Catalog:
    return catalog.Catalog(cfg.name, list(synthetic.SHAPES), dict(synthetic.ATTRIBUTE_VALUES), groups=_groups())


def _groups() -> dict[str, list[str]]:
    return {group: list(shapes) for group, shapes in synthetic.GROUPS.items()}


@FORMATS.register("synthetic", SyntheticDatasetConfig, catalog=_catalog)
def load_synthetic(cfg, transform: Callable | None, with_train: bool) -> LoadedData:
    """Rendered at cfg.image_size, already normalised: `transform` does not apply."""
    if not with_train:
        raise UnlearnError("dataset format synthetic cannot be listed under eval.zeroshot; "
                           "its held-out suites are dataset.zeroshot_suites")
    unknown = set(cfg.zeroshot_suites) - set(synthetic.ZEROSHOT_SUITES)
    if unknown:
        raise UnlearnError(
            f"unknown synthetic zero-shot suite(s) {choices(sorted(unknown))}; valid: {choices(synthetic.ZEROSHOT_SUITES)}"
        )
    seed, size = cfg.world_seed, cfg.image_size
    main = synthetic.suite_combos("main")
    classnames = list(synthetic.SHAPES)
    suites = {
        name: ZeroShotSuite(
            _image_set(synthetic.sample_pool(synthetic.suite_combos(name), cfg.suite_per_combo, seed + 10 + i, size)),
            classnames, list(cfg.templates),
        )
        for i, name in enumerate(cfg.zeroshot_suites)
    }
    # distinct seeds per pool: no image is shared between train, calib and test
    return LoadedData(
        classnames=classnames,
        test=_image_set(synthetic.sample_pool(main, cfg.test_per_combo, seed + 3, size)),
        train=_image_set(synthetic.sample_pool(main, cfg.train_per_combo, seed + 1, size)),
        calib=_image_set(synthetic.sample_pool(main, cfg.calib_per_combo, seed + 2, size)),
        attribute_values=dict(synthetic.ATTRIBUTE_VALUES),
        groups=_groups(),
        zeroshot=suites,
    )
