"""A metric suite: the metrics of one config node (`eval.metrics`, `audit.metrics`), run as one.

| kind      | registered                                   | called as                               | by                                 |
|-----------|----------------------------------------------|-----------------------------------------|------------------------------------|
| model     | `@METRICS.register(name, Config)`            | `run(mctx, model, cfg) -> {key: value}` | `measure(mctx, model)`, per model  |
| aggregate | `@METRICS.register(name, Config, aggregate=True)` | `run(before, after, cfg) -> {key: value}` | `aggregate(before, after)`, once |

A metric may declare `needs=(names...)`, the metrics of the same suite whose keys it reads (the
scores read zeroshot's accuracies), and `keys=(...)`, the top-level keys it writes that a run's
`objective` may name. `check` holds the suite to both before any work, with one line naming the
bad value and the choices. The suite is the one place that tells the two kinds apart: the runner
and the audit call `measure` and `aggregate` and know no metric by name.
"""

from __future__ import annotations

from typing import Any, Mapping

from unlearn.errors import UnlearnError
from unlearn.metrics import METRICS


class MetricSuite:
    def __init__(self, metrics: Mapping[str, Any], node: str):
        self.metrics, self.node = metrics, node  # name in the node -> metric config; the node's path

    def __len__(self) -> int:
        return len(self.metrics)

    def _entries(self, aggregate: bool):
        for cfg in self.metrics.values():
            entry = METRICS.get(cfg.name)
            if bool(entry.extras.get("aggregate")) == aggregate:
                yield entry, cfg

    def check(self, objective: str | None = None) -> None:
        """Every metric registered, every metric it needs in the suite, the objective written by one."""
        names = {cfg.name for cfg in self.metrics.values()}
        for cfg in self.metrics.values():
            for needed in METRICS.get(cfg.name).extras.get("needs", ()):
                if needed not in names:
                    raise UnlearnError(f"{self.node} metric {cfg.name} needs the {needed} metric; add "
                                       f"+metric@{self.node}.{needed}={needed}")
        if objective is not None and not any(objective in METRICS.get(name).extras.get("keys", ()) for name in names):
            writers = [name for name, entry in METRICS.load().items() if objective in entry.extras.get("keys", ())]
            keep = f"keep {self.node}.{writers[0]}" if writers else "no registered metric writes it"
            raise UnlearnError(f"objective={objective} is a key of the {', '.join(writers) or 'no'} metric; {keep}")

    def measure(self, mctx, model) -> dict:
        """Every model metric on `model`: their keys, merged."""
        out = {}
        for entry, cfg in self._entries(aggregate=False):
            out.update(entry.run(mctx, model, cfg))
        return out

    def aggregate(self, before: dict, after: dict) -> dict:
        """Every aggregate from the before and after measurements."""
        out = {}
        for entry, cfg in self._entries(aggregate=True):
            out.update(entry.run(before, after, cfg))
        return out
