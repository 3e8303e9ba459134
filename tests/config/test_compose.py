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
        assert cfg[group].name == option


def test_forget_presets_name_their_kind():
    for path in (ROOT / "conf" / "forget").glob("synthetic_*.yaml"):
        cfg = compose_config(f"forget={path.stem}")
        assert path.stem.startswith(f"synthetic_{cfg.forget.kind}_")
        assert bool(cfg.forget.attributes) == (cfg.forget.kind != "class")
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


def test_yaml_files_declare_their_schema():
    for group in ("dataset", "backbone", "method", "forget", "logger"):
        for path in (ROOT / "conf" / group).glob("*.yaml"):
            assert f"/schema/{group}/" in Path(path).read_text(), path
