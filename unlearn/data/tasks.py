"""Turn a `forget` spec into the sets an unlearning job uses.

- forget: images of `forget.classes` that match every `forget.attributes` value
- retain, by `forget.kind`:
  - attributes given (subgroup / style): the siblings — same classes, other attribute values;
  - `class_in_style`: the other classes with the same attribute values (forget dogs in
    sketches, keep sketches of everything else);
  - `subgroup` without attributes (real datasets: a fine class inside a coarse group, e.g.
    marmoset among the monkeys): the other classes of the forget classes' groups (bench.groups);
  - `class`: the other classes of the dataset
- others: images of every class outside `forget.classes`
- the coarse name of each forget class (`forget_coarse`, three-stage's forget text): with
  attributes, the class itself (red circles are still circles); without, the first coarse group
  holding it (marmoset -> monkey; circle -> curved shape), else the class itself
- whole classes (`forget_whole_classes`): no attributes, so every image of the forget classes is
  a forget image (class, or a fine class inside its coarse group); with attributes, siblings share
  the forget classes' names (red circles among the circles)
Zero-shot suites drop images that fall under the forget spec: those are meant to be forgotten.
Several specs at once (`union_task`: deletion requests in batch, and what sequential requests
are measured on): forget is under any spec, retain under some spec's retain and no spec's
forget, others outside every spec's classes, the suites drop what any spec forgets. A request
after earlier ones (`build_task(..., exclude=earlier)`): the earlier specs' images leave its
retain sets, and their whole classes are `forgotten_classes`.
`forget.kind` is checked at composition (unlearn.config.schema.ForgetKind); the sizes of the
drawn sets come from the `task` config node (unlearn.config.schema.TaskConfig).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from omegaconf import ListConfig

from unlearn.data.base import Benchmark, ImageSet, ZeroShotSuite
from unlearn.data.images import decodable
from unlearn.errors import UnlearnError, choices


@dataclass
class UnlearningTask:
    forget_classes: list[int]
    forget_coarse: list[str]  # the coarse name of each forget class (module docstring)
    forget_whole_classes: bool  # every image of the forget classes is a forget image (module docstring)
    forget_train: ImageSet  # D_f
    retain_train: ImageSet  # D_r
    calib_forget: ImageSet  # D_m, forget part
    calib_retain: ImageSet  # D_m, retain part
    test: ImageSet
    test_masks: dict[str, np.ndarray]  # forget / retain / others, boolean over `test`
    zeroshot: dict[str, ZeroShotSuite]
    # whole classes that earlier deletion requests forgot (unlearn/requests.py): a method keeps none of them
    forgotten_classes: list[int] = dataclasses.field(default_factory=list)


def without_undecodable(task: UnlearningTask) -> tuple[UnlearningTask, dict[str, int]]:
    """The task with every image that cannot be decoded left out (`dataset.skip_bad_images=true`),
    and how many were left out per set (only sets that lost any)."""
    dropped: dict[str, int] = {}

    def keep(name: str, images: ImageSet) -> tuple[ImageSet, np.ndarray]:
        ok = decodable(images)
        if not ok.all():
            dropped[name] = int((~ok).sum())
        return images.subset(np.flatnonzero(ok)), ok

    sets = {name: keep(name, getattr(task, name))[0]
            for name in ("forget_train", "retain_train", "calib_forget", "calib_retain")}
    test, ok = keep("test", task.test)
    suites = {name: dataclasses.replace(suite, images=keep(f"zeroshot/{name}", suite.images)[0])
              for name, suite in task.zeroshot.items()}
    masks = {name: mask[ok] for name, mask in task.test_masks.items()}
    return dataclasses.replace(task, **sets, test=test, test_masks=masks, zeroshot=suites), dropped


def validate_forget(bench: Benchmark, forget) -> list[int]:
    """Class indices of the forget spec; one clear error for unknown names or values.

    `bench` may be a Benchmark or a data-free Catalog (unlearn/data/catalog.py)."""
    if not forget.classes:
        raise UnlearnError("forget.classes is empty; name at least one class")
    index = {name: i for i, name in enumerate(bench.classnames)}
    unknown = [c for c in forget.classes if c not in index]
    if unknown:
        raise UnlearnError(f"unknown forget class {choices(unknown)} for dataset {bench.name}; valid: {choices(bench.classnames)}")
    for attr, value in forget.attributes.items():
        if attr not in bench.attribute_values:
            valid = choices(bench.attribute_values) or "none (this dataset has no attributes)"
            raise UnlearnError(f"unknown forget attribute {attr!r} for dataset {bench.name}; valid: {valid}")
        if value not in bench.attribute_values[attr]:
            raise UnlearnError(f"unknown {attr} {value!r} in forget.attributes; valid: {choices(bench.attribute_values[attr])}")
    if forget.kind in ("style", "class_in_style") and not forget.attributes:
        raise UnlearnError(f"forget.kind={forget.kind} needs forget.attributes (e.g. {{style: sketch}})")
    if forget.kind == "subgroup" and not forget.attributes:
        group_siblings(bench, forget)
    return [index[c] for c in forget.classes]


def coarse_names(bench, forget) -> list[str]:
    """The coarse name of each forget class (see the module docstring)."""
    names = []
    for name in forget.classes:
        holding = [] if forget.attributes else [g for g, members in bench.groups.items() if name in members]
        names.append(holding[0] if holding else name)
    return names


def group_siblings(bench, forget) -> list[str]:
    """The other members of the coarse groups that hold the forget classes."""
    holding = {c: [g for g, members in bench.groups.items() if c in members] for c in forget.classes}
    orphans = [c for c, groups in holding.items() if not groups]
    if orphans:
        valid = choices(bench.groups) or "none (this dataset has no coarse groups)"
        raise UnlearnError(f"forget.kind=subgroup without forget.attributes needs classes inside a coarse group; "
                           f"{choices(orphans)} is in none of dataset {bench.name}'s groups: {valid}")
    members = {m for groups in holding.values() for g in groups for m in bench.groups[g]}
    siblings = sorted(members - set(forget.classes))
    if not siblings:
        raise UnlearnError(f"forget classes {choices(forget.classes)} leave no sibling in their group to retain")
    return siblings


def _masks(images: ImageSet, classes: list[int], attributes: dict, kind: str = "class",
           siblings: list[int] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forget, retain, others) boolean masks over `images` (see the module docstring)."""
    in_classes = np.isin(images.labels, classes)
    match = np.ones(len(images), dtype=bool)
    for attr, value in attributes.items():
        match &= images.attributes[attr] == value
    forget = in_classes & match
    if kind == "class_in_style":
        retain = ~in_classes & match
    elif attributes:
        retain = in_classes & ~match
    elif kind == "subgroup":
        retain = np.isin(images.labels, siblings)
    else:
        retain = ~in_classes
    return forget, retain, ~in_classes


def _spec(bench: Benchmark, forget) -> tuple[list[int], dict, str, list[int]]:
    """The validated spec as `_masks` takes it: forget class indices, attributes, kind, and the
    group siblings' indices (a subgroup without attributes; otherwise none)."""
    classes = validate_forget(bench, forget)
    siblings = ([bench.classnames.index(c) for c in group_siblings(bench, forget)]
                if forget.kind == "subgroup" and not forget.attributes else [])
    return classes, dict(forget.attributes), forget.kind, siblings


def spec_masks(bench: Benchmark, forget, images: ImageSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forget, retain, others) boolean masks of the forget spec over any of the dataset's image sets
    (e.g. the whole training pool, where the task holds only samples of it); `forget` may be a list
    of specs (deletion requests: `union_task`'s masks)."""
    return _union(images, [_spec(bench, spec) for spec in as_specs(forget)])


def as_specs(forget) -> list:
    """A forget spec, or a list of them (deletion requests), as a list."""
    return list(forget) if isinstance(forget, (list, tuple, ListConfig)) else [forget]


def _pick(mask: np.ndarray, size: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of `mask`, at most `size` of them drawn at random (all when size is None)."""
    indices = np.flatnonzero(mask)
    if size and len(indices) > size:
        indices = np.sort(rng.choice(indices, size=size, replace=False))
    return indices


def _sample(images: ImageSet, mask: np.ndarray, size: int | None, rng: np.random.Generator) -> ImageSet:
    return images.subset(_pick(mask, size, rng))


STAGE_DRAW_SEED = 0  # the capped stage sets are the same for every run seed: stage curves compare across seeds


def stage_task(task: UnlearningTask, cap: int | None) -> UnlearningTask:
    """What a method's intermediate states are measured on (`eval.stage_cap`): the forget and retain
    test images whole, `others` and each suite at most `cap` of theirs, drawn by a fixed seed.
    `others` is measured on its own draw, so its accuracy is not tilted towards the retain classes
    (for a class spec the retain images are the others, and all are kept). Sets the cap leaves
    whole are the task's own: the evaluator then reuses a stage's features for the next phase."""
    if cap is None:
        return task
    rng = np.random.default_rng(STAGE_DRAW_SEED)
    masks = task.test_masks
    suites = {name: suite if len(suite.images) <= cap else dataclasses.replace(
        suite, images=suite.images.subset(_pick(np.ones(len(suite.images), bool), cap, rng)))
        for name, suite in task.zeroshot.items()}
    if masks["others"].sum() <= cap:
        return dataclasses.replace(task, zeroshot=suites)
    drawn = {"forget": np.flatnonzero(masks["forget"]), "retain": np.flatnonzero(masks["retain"]),
             "others": _pick(masks["others"], cap, rng)}
    keep = np.unique(np.concatenate(list(drawn.values())))
    return dataclasses.replace(task, test=task.test.subset(keep), zeroshot=suites,
                               test_masks={name: np.isin(keep, indices) for name, indices in drawn.items()})


def build_task(bench: Benchmark, forget, sizes, seed: int, exclude=()) -> UnlearningTask:
    """The task of a forget spec; `sizes` is the `task` config node (TaskConfig). `exclude`: specs
    forgotten before this one (sequential requests): their images leave the retain sets, and their
    whole classes are `forgotten_classes`."""
    return _task(bench, [forget], sizes, seed, list(exclude))


def union_task(bench: Benchmark, specs, sizes, seed: int) -> UnlearningTask:
    """The task of several forget specs at once (unlearn/requests.py): forget images are those under
    any spec, retain images those some spec retains and none forgets, others the images of no
    spec's classes; `test_masks` also holds each spec's own forget images as `forget/<j>` (1-based)."""
    task = _task(bench, list(specs), sizes, seed, [])
    masks = {f"forget/{j}": _masks(task.test, *_spec(bench, spec))[0] for j, spec in enumerate(specs, 1)}
    return dataclasses.replace(task, test_masks=task.test_masks | masks)


def _union(images: ImageSet, specs: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_masks` of several validated specs: forget under any, retain under some and forgotten by
    none, others outside every spec's classes (for one spec: `_masks` itself)."""
    forget, retain, others = zip(*(_masks(images, *spec) for spec in specs))
    anywhere = np.logical_or.reduce(forget)
    return anywhere, np.logical_or.reduce(retain) & ~anywhere, np.logical_and.reduce(others)


def _task(bench: Benchmark, forgets: list, sizes, seed: int, exclude: list) -> UnlearningTask:
    specs = [_spec(bench, forget) for forget in forgets]
    earlier = [_spec(bench, spec) for spec in exclude]
    name = "+".join(forget.name for forget in forgets)
    rng = np.random.default_rng(seed)

    def split(images: ImageSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        forget, retain, others = _union(images, specs)
        if earlier:  # nothing already forgotten is retained
            retain = retain & ~_union(images, earlier)[0]
        return forget, retain, others

    train_f, train_r, _ = split(bench.train)
    calib_f, calib_r, _ = split(bench.calib)
    test_f, test_r, test_o = split(bench.test)
    if len(bench.classnames) < 2:
        raise UnlearnError(f"dataset {bench.name} has {len(bench.classnames)} class; zero-shot unlearning needs at least "
                           "two (something to forget and something to keep)")
    for part, masks in (("forget", (train_f, test_f)), ("retain", (train_r, test_r))):
        for split_name, mask in zip(("training", "test"), masks):
            if not mask.any():
                raise UnlearnError(f"forget spec {name!r} leaves no {part} {split_name} images in dataset {bench.name}; "
                                   f"the score needs both a forget and a retain set")
    cap = sizes.eval_cap
    eval_rng = np.random.default_rng(seed + 1)  # separate stream: capping never moves the training sets
    test_keep = np.unique(np.concatenate([_pick(mask, cap, eval_rng) for mask in (test_f, test_r, test_o)]))
    suites = {}
    for suite_name, suite in bench.zeroshot.items():
        keep = ~np.logical_or.reduce([_suite_forget(suite, forget) for forget in forgets])
        if not keep.any():
            raise UnlearnError(f"zero-shot suite {suite_name} holds only images under forget spec {name!r}: "
                               "nothing is left to measure; drop the suite or narrow the spec")
        suites[suite_name] = ZeroShotSuite(suite.images.subset(_pick(keep, cap, eval_rng)), suite.classnames,
                                           suite.templates)
    classes = list(dict.fromkeys(c for spec in specs for c in spec[0]))
    coarse = dict(pair for forget, spec in zip(forgets, specs) for pair in zip(spec[0], coarse_names(bench, forget)))
    return UnlearningTask(
        forget_classes=classes,
        forget_coarse=[coarse[c] for c in classes],
        forget_whole_classes=not any(spec[1] for spec in specs),
        forget_train=_sample(bench.train, train_f, sizes.forget_train_size, rng),
        retain_train=_sample(bench.train, train_r, sizes.retain_train_size, rng),
        calib_forget=_sample(bench.calib, calib_f, sizes.calib_size, rng),
        calib_retain=_sample(bench.calib, calib_r, sizes.calib_size, rng),
        test=bench.test.subset(test_keep),
        test_masks={"forget": test_f[test_keep], "retain": test_r[test_keep], "others": test_o[test_keep]},
        zeroshot=suites,
        forgotten_classes=list(dict.fromkeys(c for spec in earlier if not spec[1] for c in spec[0])),
    )


def _suite_forget(suite: ZeroShotSuite, forget) -> np.ndarray:
    """The images of a zero-shot suite under the forget spec: those are meant to be forgotten. A
    suite without the spec's attributes (e.g. CIFAR beside a style dataset) holds none of them."""
    if not set(forget.attributes) <= set(suite.images.attributes):
        return np.zeros(len(suite.images), dtype=bool)
    return _masks(suite.images, [suite.classnames.index(c) for c in forget.classes if c in suite.classnames],
                  dict(forget.attributes))[0]
