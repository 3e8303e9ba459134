"""Method registry: a method is one module here that registers its run function and config
dataclass, plus conf/method/<name>.yaml; `METHODS.get(name).run(ctx)` runs it."""

from unlearn.registry import Registry

METHODS = Registry("method", __name__)
