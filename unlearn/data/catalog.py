"""Class names, prompt templates and coarse groups of the real datasets, from maintained sources.

- ImageNet-1k: CLIP's class names and 80 prompt templates from `open_clip.zero_shot_metadata`,
  the WordNet ids (folder names) from timm's ImageNet info; Stanford Dogs' names are timm's
  WordNet lemmas of its ids; ImageNet-R's 200 ids come from timm too.
- what no installed library ships lives in `metadata/*.json` beside this file (each file says
  where its content comes from): the CLIP templates of the other datasets, the class lists of
  CIFAR, Caltech-101, Flowers-102, Stanford Cars and Dogs, and the WordNet groups of ImageNet;
  `metadata/preserve_names/*.txt` are near-neighbour name lists we wrote (each file's header
  says how), for `dataset.preserve_names`.

`Catalog` is what is known about a dataset config without its data (each format's `catalog`,
see unlearn/data/formats/), so that `forget` presets validate anywhere; the loaders build the
same names from the data itself.
"""

from __future__ import annotations

import json
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from unlearn.data.images import prompt_name
from unlearn.errors import UnlearnError, choices
from unlearn.io import read_name_list

METADATA_DIR = Path(__file__).parent / "metadata"


@dataclass
class Catalog:
    """What a forget spec is validated against (a Benchmark offers the same fields)."""

    name: str
    classnames: list[str]
    attribute_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)


@cache
def _metadata(name: str) -> dict:
    return json.loads((METADATA_DIR / f"{name}.json").read_text())


def class_list(key: str) -> list[str]:
    return list(_metadata("class_lists")[key])


def preserve_names(key: str) -> list[str]:
    """A shipped near-neighbour name list (`dataset.preserve_names`)."""
    folder = METADATA_DIR / "preserve_names"
    path = folder / f"{key}.txt"
    if not path.is_file():
        raise UnlearnError(f"dataset.preserve_names: no list {key!r}; valid: "
                           f"{choices(sorted(p.stem for p in folder.glob('*.txt')))}")
    return read_name_list(path)


@cache
def _imagenet_info():
    from timm.data import ImageNetInfo

    return ImageNetInfo("imagenet-1k")


def imagenet_wnids() -> list[str]:
    """The 1000 WordNet ids in label order (sorted: the order of an ImageFolder of them)."""
    return list(_imagenet_info().label_names())


def imagenet_classnames() -> list[str]:
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    return list(IMAGENET_CLASSNAMES)


def wordnet_lemma(wnid: str) -> str:
    """The first WordNet lemma of a synset, e.g. n02086079 -> Pekinese."""
    return _imagenet_info().label_name_to_description(wnid).split(",")[0].strip()


def imagenet_r_wnids() -> list[str]:
    return pkgutil.get_data("timm.data", "_info/imagenet_r_synsets.txt").decode().split()


def imagenet_groups() -> dict[str, list[str]]:
    """WordNet group -> member class names (CLIP's spelling)."""
    name_of = dict(zip(imagenet_wnids(), imagenet_classnames()))
    groups = _metadata("imagenet_groups")["groups"]
    return {group: [name_of[w] for w in spec["members"]] for group, spec in groups.items()}


def stanford_dogs_classnames() -> list[str]:
    return [wordnet_lemma(w) for w in class_list("stanford_dogs_wnids")]


def cifar100_superclasses() -> dict[str, list[str]]:
    return {k: list(v) for k, v in _metadata("class_lists")["cifar100_superclasses"].items()}


def clip_templates(dataset: str) -> list[str]:
    """CLIP's evaluation prompt templates for a dataset, as `str.format` patterns."""
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

    # open_clip stores its templates as functions of the class name
    library = {
        "imagenet1k": [t("{}") for t in OPENAI_IMAGENET_TEMPLATES],
        "imagenet1k_simple": [t("{}") for t in SIMPLE_IMAGENET_TEMPLATES],
    }
    shipped = {k: v for k, v in _metadata("clip_templates").items() if not k.startswith("_")}
    if dataset in library:
        return library[dataset]
    if dataset not in shipped:
        raise UnlearnError(f"no CLIP templates for {dataset!r}; valid: {choices(sorted(library | shipped))}")
    return list(shipped[dataset])


def spaced(names: list[str]) -> list[str]:
    return [prompt_name(n) for n in names]
