"""Method registry: a method is one module here that registers its run function and config
dataclass, plus conf/method/<name>.yaml; `METHODS.get(name).run(ctx)` runs it.

`@METHODS.register(name, Config, rank=..., label=...)`: `rank` places the method's rows in report
tables (the original model 0, the baselines 10-80, the papers' two methods 90 and 100; none stated:
unlearn.results.DEFAULT_METHOD_RANK, after the baselines), `label` names them there (default: the
name). Both reach the report through metrics.json, so a plugin's method is placed like ours.
`forgets="whole_classes"`: the method forgets whole classes only (a spec with attributes, a colour
subgroup or a style, is refused before any work); `requests=False`: it forgets one spec per job and
cannot take deletion requests (unlearn/requests.py).
"""

from unlearn.registry import Registry

METHODS = Registry("method", __name__)
