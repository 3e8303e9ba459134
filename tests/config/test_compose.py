import re
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from tests.conftest import ROOT, compose_config

GROUPS = ("dataset", "backbone", "method", "forget", "logger", "experiment", "debug")
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((ROOT / "conf" / g).glob("*.yaml"))]


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes(group, option):
    cfg = compose_config(f"{group}={option}")
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    if group in ("dataset", "backbone", "method", "forget", "logger"):
        # its own name, or a variant's parent's (backbone=tiny_rn_scale100 builds on tiny_rn)
        assert cfg[group].name in (option, _parent(ROOT / "conf" / group / f"{option}.yaml").stem)


def test_forget_presets_name_their_kind():
    for path in (ROOT / "conf" / "forget").glob("synthetic_*.yaml"):
        cfg = compose_config(f"forget={path.stem}")
        assert path.stem.startswith(f"synthetic_{cfg.forget.kind}_")
        # attributes for colour/style subgroups; none for a class, or a class inside its coarse group
        coarse_group = cfg.forget.kind == "subgroup" and path.stem.removeprefix("synthetic_subgroup_") in cfg.forget.classes
        assert bool(cfg.forget.attributes) == (cfg.forget.kind != "class" and not coarse_group)
    kinds = [compose_config(f"forget={p.stem}").forget.kind for p in (ROOT / "conf" / "forget").glob("synthetic_*.yaml")]
    assert all(kinds.count(k) >= 2 for k in ("subgroup", "class", "style"))
    assert compose_config().forget.kind == "subgroup"


@pytest.mark.parametrize("override, message", [
    ("method.lrr=1", "Key 'lrr' not in 'ThreeStageConfig'"),
    ("method=nope", "Could not find 'method/nope'"),
    ("seed=abc", "Value 'abc' of type 'str' could not be converted to Integer"),
    ("dataset.test_per_combo=1.5", "could not be converted to Integer"),
])
def test_bad_overrides_fail_at_composition(override, message):
    with pytest.raises(ConfigCompositionException) as err:
        compose_config(override)
    assert message in str(err.value) + str(err.value.__cause__)


def _options(group: str) -> set[str]:
    return {p.stem for p in (ROOT / "conf" / group).glob("*.yaml")}


def _included(group: str) -> set[str]:
    """The files of a group that other files of it include (`defaults: [<name>]`)."""
    return {entry for p in (ROOT / "conf" / group).glob("*.yaml")
            for entry in OmegaConf.load(p).get("defaults", []) if isinstance(entry, str)}


def test_every_tuned_file_is_picked_by_a_method_and_backbone_or_included():
    """conf/tuned/<method>_<backbone>.yaml and conf/tuned_dataset/<method>_<backbone>_<dataset>.yaml
    are chosen by name: a misspelt one would never apply, silently."""
    pairs = {f"{m}_{b}" for m in _options("method") for b in _options("backbone")}
    for name in _options("tuned") - _included("tuned"):
        assert name in pairs, f"conf/tuned/{name}.yaml matches no <method>_<backbone>"
    triples = {f"{pair}_{d}" for pair in pairs for d in _options("dataset")}
    for name in _options("tuned_dataset"):
        assert name in triples, f"conf/tuned_dataset/{name}.yaml matches no <method>_<backbone>_<dataset>"


@pytest.mark.parametrize("method, backbone, key, value, explicit", [
    ("three_stage", "rn50", "forget_lr", 2.5e-4, 0.5), ("three_stage", "vit_l14", "align_fallback", "skip", "noise"),
    ("three_stage", "tiny_rn_scale100", "forget_lr", 2.5e-4, 0.5), ("three_stage", "tiny_rn", "forget_lr", 1e-3, 0.5),
    ("lipschitz", "rn101", "towers", "both", "text"), ("lipschitz", "tiny_vit", "towers", "text", "both"),
    ("space_adaptation", "tiny_vit", "single.target", "orthogonal", "empty"),
])
def test_a_methods_defaults_follow_the_backbone(method, backbone, key, value, explicit):
    assert OmegaConf.select(compose_config(f"method={method}", f"backbone={backbone}").method, key) == value
    # an explicit value wins over the backbone's
    cfg = compose_config(f"method={method}", f"backbone={backbone}", f"method.{key}={explicit}")
    assert OmegaConf.select(cfg.method, key) == explicit


def _parent(path: Path) -> Path:
    """The option an option inherits from (`defaults: [<option>, _self_]`), followed to the one
    that names its schema; the option itself when it names its schema."""
    text = path.read_text()
    if "/schema/" in text:
        return path
    parent = OmegaConf.load(path).defaults[0]
    return _parent(path.parent / f"{parent}.yaml")


def test_yaml_files_declare_their_schema():
    for group in ("dataset", "backbone", "method", "forget", "logger"):
        for path in (ROOT / "conf" / group).glob("*.yaml"):
            assert f"/schema/{group}/" in _parent(path).read_text(), path


def _schema_of(path: Path):
    from hydra.core.config_store import ConfigStore

    group, name = re.search(r"/schema/(\w+)/(\w+)@_here_", _parent(path).read_text()).groups()
    return ConfigStore.instance().load(f"schema/{group}/{name}.yaml").node


SCHEMA_OPTIONS = [p for g in ("dataset", "backbone", "method", "forget", "logger")
                  for p in sorted((ROOT / "conf" / g).glob("*.yaml"))]


@pytest.mark.parametrize("path", SCHEMA_OPTIONS, ids=[f"{p.parent.name}/{p.stem}" for p in SCHEMA_OPTIONS])
def test_yaml_options_do_not_restate_schema_defaults(path):
    """Each default lives once, in its dataclass: an option sets only what makes it that option."""
    schema, option = _schema_of(path), OmegaConf.load(path)
    restated = [key for key in option if key != "defaults" and key in schema
                and OmegaConf.to_container(OmegaConf.merge(schema, {key: option[key]}))[key]
                == OmegaConf.to_container(schema)[key]]
    assert restated == [], f"{path.name} restates its schema's defaults for {restated}"


@pytest.mark.parametrize("overrides, valid", [
    (["method.towers=head"], "[image, text, both, by_spec]"),
    (["method.soup_rule=best"], "[smallest_below, best_retain_below, best_score]"),
    (["method.selection=top"], "[topk, threshold]"),
    (["method.align_fallback=zeros"], "[skip, noise, inversion]"),
    (["method=lipschitz", "method.sigma_advance=sometimes"], "[stall, epoch]"),
    (["method=lipschitz", "method.anchor=clean"], "[noisy, none]"),
    (["method=space_adaptation", "method.solver=newton"], "[gradient, closed_form]"),
    (["method=space_adaptation", "method.forget_prompts=all"], "[bare, templates]"),
    (["method=space_adaptation", "method.target=zero"], "[empty, orthogonal]"),
    (["method=emmn", "method.towers=audio"], "[image, text, both]"),
    (["forget.kind=subgroups"], "[subgroup, class, style, class_in_style]"),
    (["eval.precision=fp8"], "[auto, fp32, bf16, fp16]"),
    (["backbone.tokenizer=bpe"], "[open_clip, synthetic]"),
    (["logger.mode=sometimes"], "[offline, online, disabled]"),
    (["objective=best"], "[score, paper_score]"),
    (["method.soup_objective=best"], "[score, paper_score]"),
])
def test_bad_choices_fail_at_composition(overrides, valid):
    """Choice fields are enums: a bad value fails before any work, naming the valid ones."""
    with pytest.raises(ConfigCompositionException) as err:
        compose_config(*overrides)
    assert f"expected one of {valid}" in str(err.value) + str(err.value.__cause__)
