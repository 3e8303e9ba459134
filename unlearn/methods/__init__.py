"""Method registry: a method is one module here that calls `register`, plus conf/method/<name>.yaml."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from unlearn.errors import UnlearnError, choices


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable  # run(ctx: UnlearnContext) -> None, edits ctx.model in place
    config_class: type


METHODS: dict[str, Method] = {}


def register(name: str, config_class: type) -> Callable:
    def wrap(run: Callable) -> Callable:
        if name in METHODS:
            raise ValueError(f"method {name!r} registered twice")
        METHODS[name] = Method(name, run, config_class)
        return run

    return wrap


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise UnlearnError(f"unknown method {name!r}; valid: {choices(sorted(METHODS))}")
    return METHODS[name]


for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_") and _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")
