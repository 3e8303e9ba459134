"""Plugins: methods, metrics and dataset formats from another installed package, no edit here.

A plugin is any installed package that names a module of its own in the entry-point group
`unlearn.plugins`; that module registers its entries exactly as the built-in ones do, and the
package's `conf/` folder (when it has one) holds their YAML (examples/plugin/ is a whole one):

    # the plugin's pyproject.toml
    [project.entry-points."unlearn.plugins"]
    shrink_text = "unlearn_shrink_text"            # a module of the plugin

    # unlearn_shrink_text/__init__.py
    @METHODS.register("shrink_text", ShrinkTextConfig)
    def shrink_text(ctx): ...

    # unlearn_shrink_text/conf/method/shrink_text.yaml     -> python -m unlearn method=shrink_text

| what                 | when                                                  | how                                  |
|----------------------|-------------------------------------------------------|--------------------------------------|
| the module           | the first time any registry lists its entries         | `load_plugins()`, from `Registry.load` |
| the package's `conf/` | when Hydra builds its search path, after this repository's `conf/` | `PluginConfigs`, registered by `python -m unlearn` |

A plugin adds options to the config groups; a name already taken is an error naming both. A
plugin that cannot be imported stops every command with one line naming it.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from unlearn.errors import UnlearnError

GROUP = "unlearn.plugins"
_loaded: set[str] = set()


def installed() -> list[EntryPoint]:
    """The installed plugins, by name."""
    return sorted(entry_points(group=GROUP), key=lambda ep: ep.name)


def load_plugins() -> None:
    """Import every installed plugin's module once (each registers its entries)."""
    for ep in installed():
        if ep.value in _loaded:
            continue
        _loaded.add(ep.value)  # before importing: a plugin's own registry calls come back here
        try:
            importlib.import_module(ep.value)
        except Exception as err:
            _loaded.discard(ep.value)
            raise UnlearnError(f"plugin {ep.name!r} ({GROUP} entry point {ep.value!r}) failed to import: "
                               f"{type(err).__name__}: {err}") from None


def config_dir(ep: EntryPoint) -> Path | None:
    """The `conf/` folder of the package holding a plugin's module, found without importing it."""
    spec = importlib.util.find_spec(ep.value.split(".")[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "conf"
    return folder if folder.is_dir() else None


class PluginConfigs(SearchPathPlugin):
    """Hydra's search path gains each installed plugin's `conf/`, after this repository's."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for ep in installed():
            if (folder := config_dir(ep)) is not None:
                search_path.append(provider=f"unlearn-plugin:{ep.name}", path=f"file://{folder}")
