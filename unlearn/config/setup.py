"""The one setup every entrypoint calls before it composes or reads a config.

    from unlearn.config import setup
    setup()                 # resolvers + every schema + plugins' conf/: before Hydra composes conf/*.yaml
    register_resolvers()    # resolvers only: for tools that read saved configs (the report), torch-free
"""

from __future__ import annotations

import uuid
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from omegaconf import OmegaConf

from unlearn.config.schema import AuditConfig, BackboneConfig, ForgetConfig, LoggerConfig, PretrainRunConfig, RunConfig
from unlearn.plugins import PluginConfigs
from unlearn.rundir import job_dirname


def _clip_templates(dataset: str) -> list[str]:
    from unlearn.data.catalog import clip_templates  # imports open_clip: only when a config asks

    return clip_templates(dataset)


# the repository's conf/, through the package's link to it: an installed wheel holds the files there
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def config_groups() -> str:
    """`group: option, ...` for every group under conf/ (hydra/launcher and hydra/sweeper
    included): what `--help` lists, without the schema groups that only the YAML files name."""
    groups = sorted({p.parent.relative_to(CONF_DIR).as_posix() for p in CONF_DIR.rglob("*.yaml") if p.parent != CONF_DIR})
    groups = [g for g in groups if g != "hydra"]  # hydra/default.yaml is the run-folder layout, not a choice
    return "\n".join(f"{g}: {', '.join(sorted(p.stem for p in (CONF_DIR / g).glob('*.yaml')))}" for g in groups)


def register_resolvers() -> None:
    # a short random id per launch: run/sweep folders cannot collide even when started in the
    # same second; cached so that every job of a sweep (and Hydra's copies of it) sees one value
    OmegaConf.register_new_resolver("uid", lambda: uuid.uuid4().hex[:6], use_cache=True, replace=True)
    # `templates: ${clip_templates:cifar10}` in dataset configs: CLIP's prompts from a maintained source
    OmegaConf.register_new_resolver("clip_templates", _clip_templates, replace=True)
    # `hydra.sweep.subdir: ${job_dir:}`: a job's folder named by its overrides and config hash
    OmegaConf.register_new_resolver("job_dir", lambda *, _root_: job_dirname(_root_), replace=True)
    # `--help` (conf/hydra/default.yaml): the user-facing groups and their options
    OmegaConf.register_new_resolver("config_groups", config_groups, replace=True)
    # `${when:${backbone.name},tiny_rn,retrain}`: a value for some jobs of a sweep only (the third
    # argument where the first equals the second, else null), e.g. an expensive audit reference
    OmegaConf.register_new_resolver("when", lambda value, equals, then: then if str(value) == str(equals) else None,
                                    replace=True)


def register_schemas() -> None:
    """`run_schema`, `pretrain_schema` and `schema/<group>/<name>` for every group, every
    registered method and every registered dataset format."""
    # the registries import their modules (torch and all): only entrypoints that compose need them
    from unlearn.data.formats import FORMATS
    from unlearn.methods import METHODS
    from unlearn.metrics import METRICS

    store = ConfigStore.instance()
    store.store(name="run_schema", node=RunConfig)
    store.store(name="pretrain_schema", node=PretrainRunConfig)
    store.store(group="schema/backbone", name="backbone", node=BackboneConfig)
    store.store(group="schema/forget", name="forget", node=ForgetConfig)
    store.store(group="schema/logger", name="logger", node=LoggerConfig)
    store.store(group="schema/audit", name="audit", node=AuditConfig)
    for group, registry in (("schema/method", METHODS), ("schema/dataset", FORMATS), ("schema/metric", METRICS)):
        for name, entry in registry.load().items():
            store.store(group=group, name=name, node=entry.config)


def setup() -> None:
    register_resolvers()
    register_schemas()
    Plugins.instance().register(PluginConfigs)
