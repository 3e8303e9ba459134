"""Class lists, templates and groups of the real datasets, and every real-data forget preset
validated against them without any data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, compose_config
from unlearn.data import catalog, dataset_catalog
from unlearn.data.tasks import group_siblings, validate_forget
from unlearn.errors import UnlearnError

DATASETS = sorted(p.stem for p in (ROOT / "conf" / "dataset").glob("*.yaml"))
REAL_PRESETS = sorted(p.stem for p in (ROOT / "conf" / "forget").glob("*.yaml") if not p.stem.startswith("synthetic_"))


def _dataset_of(preset: str) -> str:
    """Presets are named <dataset>_<kind>_...: the longest dataset name that prefixes it."""
    return max((d for d in DATASETS if preset.startswith(d + "_")), key=len)


@pytest.mark.parametrize("preset", REAL_PRESETS)
def test_every_real_forget_preset_validates_against_its_class_list(preset):
    cfg = compose_config(f"dataset={_dataset_of(preset)}", f"forget={preset}")
    info = dataset_catalog(cfg.dataset)
    indices = validate_forget(info, cfg.forget)
    assert [info.classnames[i] for i in indices] == list(cfg.forget.classes)


def test_presets_cover_the_papers_settings():
    assert {"imagenet1k_subgroup_marmoset", "imagenet1k_subgroup_box_turtle", "pacs_style_sketch_dog",
            "pacs_class_in_style_dog_sketch"} <= set(REAL_PRESETS)
    for dataset in ("stanford_dogs", "stanford_cars", "caltech101", "flowers102"):
        assert len([p for p in REAL_PRESETS if p.startswith(dataset + "_class_")]) == 4  # 3 single + multi


def test_subgroup_retain_set_is_the_group_siblings():
    info = dataset_catalog(compose_config("dataset=imagenet1k").dataset)
    forget = compose_config("dataset=imagenet1k", "forget=imagenet1k_subgroup_marmoset").forget
    siblings = group_siblings(info, forget)
    assert len(siblings) == 12 and "white-headed capuchin" in siblings and "marmoset" not in siblings
    turtles = group_siblings(info, compose_config("forget=imagenet1k_subgroup_box_turtle").forget)
    assert turtles == sorted(["loggerhead sea turtle", "leatherback sea turtle", "mud turtle", "terrapin"])


@pytest.mark.parametrize("override, message", [
    ("forget.classes=[tench]", "tench is in none of dataset imagenet1k's groups: monkey, ape, turtle"),
    ("forget.classes=[marmoset]", None),
])
def test_subgroup_spec_errors(override, message):
    cfg = compose_config("dataset=imagenet1k", "forget=imagenet1k_subgroup_marmoset", override)
    info = dataset_catalog(cfg.dataset)
    if message is None:
        validate_forget(info, cfg.forget)
        return
    with pytest.raises(UnlearnError, match=message):
        validate_forget(info, cfg.forget)


def test_class_lists_come_from_the_libraries_and_metadata():
    assert len(catalog.imagenet_wnids()) == len(catalog.imagenet_classnames()) == 1000
    dogs = catalog.stanford_dogs_classnames()
    assert len(dogs) == 120 and {"Pekinese", "toy poodle", "Scotch terrier"} <= set(dogs)
    superclasses = catalog.cifar100_superclasses()
    members = [f for fs in superclasses.values() for f in fs]
    assert len(superclasses) == 20 and sorted(members) == catalog.class_list("cifar100")
    assert len(catalog.class_list("caltech101")) == 100 and len(catalog.class_list("flowers102")) == 102
    assert len(set(catalog.class_list("stanford_cars"))) == 196
    assert len(catalog.imagenet_r_wnids()) == 200 and set(catalog.imagenet_r_wnids()) <= set(catalog.imagenet_wnids())


def test_imagenet_groups_are_disjoint_real_classes():
    groups = catalog.imagenet_groups()
    members = [m for ms in groups.values() for m in ms]
    assert len(members) == len(set(members)) and set(members) <= set(catalog.imagenet_classnames())
    assert "marmoset" in groups["monkey"] and "box turtle" in groups["turtle"]


@pytest.mark.parametrize("dataset", [d for d in DATASETS if d not in ("image_folder", "style_folder")])
def test_evaluation_and_training_templates_are_disjoint(dataset):
    cfg = compose_config(f"dataset={dataset}").dataset
    assert cfg.templates and all("{}" in t for t in cfg.templates)
    assert not set(cfg.templates) & set(cfg.train_templates)


def test_clip_templates_come_from_open_clip_for_imagenet():
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    templates = catalog.clip_templates("imagenet1k")
    assert len(templates) == 80 and templates[0].format("x") == OPENAI_IMAGENET_TEMPLATES[0]("x")
    with pytest.raises(UnlearnError, match="no CLIP templates for 'mnist'; valid: caltech101"):
        catalog.clip_templates("mnist")


def test_metadata_files_ship_with_the_package():
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["unlearn"]
    assert "data/metadata/*.json" in package_data
    assert all(Path(catalog.METADATA_DIR / f"{n}.json").is_file() for n in ("class_lists", "clip_templates", "imagenet_groups"))
