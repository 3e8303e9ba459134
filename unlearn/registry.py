"""Registries by name: methods, metrics, dataset formats. A package holds one module per entry;
each module registers itself when imported. `Registry.load()` imports them all, then every
installed plugin's module (unlearn/plugins.py), which may register into any registry.

    METHODS = Registry("method", "unlearn.methods")        # in unlearn/methods/__init__.py

    @METHODS.register("grad_ascent", config=GradAscentConfig)   # in unlearn/methods/grad_ascent.py
    def grad_ascent(ctx): ...

    METHODS.get("grad_ascent").config                        # -> GradAscentConfig
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from unlearn.errors import UnlearnError, choices


@dataclass(frozen=True)
class Entry:
    name: str
    run: Callable  # what the entry does (a method's run, a format's loader)
    config: type  # its dataclass schema, stored as schema/<kind>/<name>
    extras: dict[str, Any] = field(default_factory=dict)  # anything else a kind needs (e.g. a catalog)


class Registry:
    def __init__(self, kind: str, package: str):
        self.kind, self.package = kind, package
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, config: type, **extras) -> Callable:
        def wrap(run: Callable) -> Callable:
            if name in self._entries:
                raise UnlearnError(f"{self.kind} {name!r} registered twice: by {self._entries[name].run.__module__} "
                               f"and by {run.__module__}; a plugin must choose another name")
            self._entries[name] = Entry(name, run, config, extras)
            return run

        return wrap

    def load(self) -> dict[str, Entry]:
        """Import every module of the package and every plugin (each registers its entries); name -> entry."""
        if not self._loaded:
            from unlearn.plugins import load_plugins  # a plugin imports the registries: not at module import

            package = importlib.import_module(self.package)
            for module in pkgutil.iter_modules(package.__path__):
                if not module.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{module.name}")
            load_plugins()
            self._loaded = True
        return dict(self._entries)

    def get(self, name: str) -> Entry:
        entries = self.load()
        if name not in entries:
            raise UnlearnError(f"unknown {self.kind} {name!r}; valid: {choices(sorted(entries))}")
        return entries[name]
