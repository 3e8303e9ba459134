import numpy as np
import pytest

from unlearn.data import build_benchmark
from unlearn.data.tasks import build_task, stage_task
from unlearn.errors import UnlearnError


@pytest.fixture(scope="module")
def bench():
    from tests.conftest import compose_config

    return build_benchmark(compose_config("debug=default").dataset, transform=None)


def _task(bench, compose_cfg, *overrides):
    cfg = compose_cfg("debug=default", *overrides)
    return build_task(bench, cfg.forget, cfg.task, seed=0)


def test_subgroup_split(bench, compose_cfg):
    task = _task(bench, compose_cfg, "forget=synthetic_subgroup_red_circle")
    circle = bench.classnames.index("circle")
    assert (task.forget_train.labels == circle).all()
    assert (task.forget_train.attributes["colour"] == "red").all()
    assert (task.retain_train.labels == circle).all()
    assert (task.retain_train.attributes["colour"] != "red").all()
    assert not task.forget_whole_classes  # the blue circles are circles too
    masks, test = task.test_masks, task.test
    assert not (masks["forget"] & masks["retain"]).any()
    assert (test.labels[masks["others"]] != circle).all()
    # zero-shot suites drop what is to be forgotten
    for suite in task.zeroshot.values():
        hit = (suite.images.labels == circle) & (suite.images.attributes["colour"] == "red")
        assert not hit.any()


def test_class_split(bench, compose_cfg):
    task = _task(bench, compose_cfg, "forget=synthetic_class_star_heart_arrow")
    forget = [bench.classnames.index(c) for c in ("star", "heart", "arrow")]
    assert np.isin(task.forget_train.labels, forget).all()
    assert not np.isin(task.retain_train.labels, forget).any()
    assert np.array_equal(task.test_masks["retain"], task.test_masks["others"])
    assert task.forget_whole_classes


def test_training_sets_are_capped_and_seeded(bench, compose_cfg):
    a = _task(bench, compose_cfg, "task.retain_train_size=10")
    b = _task(bench, compose_cfg, "task.retain_train_size=10")
    assert len(a.retain_train) == 10
    assert np.array_equal(a.retain_train.attributes["colour"], b.retain_train.attributes["colour"])


@pytest.mark.parametrize("override, message", [
    ("forget.classes=[circel]", "unknown forget class circel for dataset synthetic; valid: circle, square"),
    ("forget.attributes.colour=mauve", "unknown colour 'mauve' in forget.attributes; valid: red, green"),
    ("+forget.attributes.size=big", "unknown forget attribute 'size' for dataset synthetic; valid: colour, style"),
])
def test_bad_forget_spec_names_valid_choices(bench, compose_cfg, override, message):
    with pytest.raises(UnlearnError, match=message.replace("(", r"\(")):
        _task(bench, compose_cfg, override)


def test_coarse_group_subgroup_keeps_the_group_siblings(bench, compose_cfg):
    """A fine class inside its coarse group (the marmoset protocol): the retain set is the other
    members of the group, the other groups are only `others`; the coarse name is the group's."""
    task = _task(bench, compose_cfg, "forget=synthetic_subgroup_circle")
    siblings = [bench.classnames.index(c) for c in ("crescent", "heart")]
    assert bench.groups["curved shape"] == ["circle", "crescent", "heart"]
    assert (task.forget_train.labels == bench.classnames.index("circle")).all()
    assert set(np.unique(task.retain_train.labels)) == set(siblings)
    test, masks = task.test, task.test_masks
    assert set(np.unique(test.labels[masks["retain"]])) == set(siblings)
    assert len(np.unique(test.labels[masks["others"]])) == len(bench.classnames) - 1
    assert task.forget_coarse == ["curved shape"]
    assert task.forget_whole_classes


def test_a_colour_subgroup_keeps_its_class_as_coarse_name(bench, compose_cfg):
    assert _task(bench, compose_cfg, "forget=synthetic_subgroup_red_circle").forget_coarse == ["circle"]


def test_synthetic_groups_cover_every_shape_once():
    from unlearn.data import synthetic

    members = [s for shapes in synthetic.GROUPS.values() for s in shapes]
    assert sorted(members) == sorted(synthetic.SHAPES)
    # no caption names a group: the tiny CLIPs' vocabulary has no group word
    assert not set(synthetic.vocabulary()) & {w for g in synthetic.GROUPS for w in g.split()} - {"shape"}


def test_stage_task_keeps_forget_and_retain_whole_and_caps_the_rest(bench, compose_cfg):
    whole = compose_cfg("debug=default", "task.eval_cap=null")  # full test sets: the same for every seed
    task = build_task(bench, whole.forget, whole.task, seed=0)
    staged = stage_task(task, 20)
    masks, full = staged.test_masks, task.test_masks
    assert masks["forget"].sum() == full["forget"].sum() and masks["retain"].sum() == full["retain"].sum()
    assert masks["others"].sum() == 20 and not (masks["others"] & masks["retain"]).any()  # its own draw
    assert all(len(suite.images) == min(20, len(task.zeroshot[name].images)) for name, suite in staged.zeroshot.items())
    other_seed = stage_task(build_task(bench, whole.forget, whole.task, seed=1), 20)
    assert np.array_equal(other_seed.test.labels, staged.test.labels)  # the same draw for every seed
    assert stage_task(task, None) is task
    roomy = stage_task(task, 10**6)
    assert {k: m.sum() for k, m in roomy.test_masks.items()} == {k: m.sum() for k, m in full.items()}
