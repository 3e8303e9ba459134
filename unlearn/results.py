"""metrics.json, typed: the one record a job writes (unlearn/run.py) and the report, resume and
the audit's readers read. Code reads the fields; only this module knows the file's keys.

| field                        | in metrics.json                          | holds                                         |
|------------------------------|------------------------------------------|-----------------------------------------------|
| `method`, `forget`, `backbone`, `dataset`, `seed` | the same keys         | what the row is (`ROW_FIELDS`)                |
| `method_rank`, `method_label` | the same keys (absent before they were recorded: `DEFAULT_METHOD_RANK`, the name) | where and how the report shows the method |
| `before`, `after`            | `before`, `after`                        | the `eval.metrics` model metrics' keys → value, of the original and the unlearned model (at least `REQUIRED_METRICS`) |
| `aggregates`                 | every other top-level key (`score`, `paper_score`, `average_gain`, `score_components`, a plugin's) | the `eval.metrics` aggregates |
| `audit`                      | `audit/<model>/<key>`                    | model (`original`, `unlearned`, `reference`; `gap` and `depth` against the reference) → key → value |
| `tow`                        | `audit/tow`                              | ToW against the reference (unlearn/audit.py)  |
| `stages`                     | `stages`                                 | stage → a method's intermediate measurements  |
| `summary`                    | `summary`                                | what the method reported with `ctx.summary`   |
| `unlearn_s`, `eval_s`        | `time/unlearn_s`, `time/eval_s`          | wall seconds                                  |
| `cost`                       | `cost`                                   | phase → seconds, images decoded / encoded, peak memory |
| `undecodable`                | `data/undecodable`                       | images left out per set (`dataset.skip_bad_images`) |
| `config_hash`                | `config_hash`                            | what determined the result (unlearn/rundir.py) |
| `undefined`                  | `undefined`                              | key → why its value is null (a ratio to zero, an `Undefined`'s reason) |
| `requests`                   | `requests/<i>/...`                       | a job with deletion requests (unlearn/requests.py): request i (1-based) → its own record in this layout, measured after it; the top level is then the last request's |

The layout is the one every earlier version wrote, so every earlier run folder loads. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROW_FIELDS = ("method", "forget", "backbone", "dataset", "seed")  # what a report row is keyed by
REQUIRED_METRICS = ("forget/acc", "retain/acc", "others/acc")  # in both `before` and `after`
# a method that states no rank, and runs written before ranks were recorded: after the baselines
DEFAULT_METHOD_RANK = 85
AUDIT_PREFIX = "audit/"
# top-level keys of the layout other than the aggregates
_NAMED = {*ROW_FIELDS, "method_rank", "method_label", "before", "after", "stages", "summary", "time/unlearn_s",
          "time/eval_s", "cost", "data/undecodable", "config_hash", "undefined", "requests"}


class Undefined(float):
    """A value a metric cannot state, with the reason: NaN to arithmetic, null in metrics.json with
    `reason` under `undefined` (e.g. an attack without the power to mean anything)."""

    reason: str

    def __new__(cls, reason: str) -> "Undefined":
        value = super().__new__(cls, "nan")
        value.reason = reason
        return value


class NotAResult(ValueError):
    """metrics.json lacks what every result has; the message names the missing keys."""


@dataclass(frozen=True)
class RunResult:
    method: str
    forget: str
    backbone: str
    dataset: str
    seed: int
    before: dict[str, Any]
    after: dict[str, Any]
    aggregates: dict[str, Any] = field(default_factory=dict)
    method_rank: float = DEFAULT_METHOD_RANK
    method_label: str | None = None  # None: the method's name
    audit: dict[str, dict[str, Any]] = field(default_factory=dict)
    tow: float | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    unlearn_s: float | None = None
    eval_s: float | None = None
    cost: dict[str, dict[str, float]] = field(default_factory=dict)
    undecodable: dict[str, int] | None = None
    config_hash: str | None = None
    undefined: dict[str, str] = field(default_factory=dict)
    requests: dict[str, RunResult] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.method_label or self.method

    def value(self, key: str) -> Any:
        """A number the report may show for the unlearned model: an `after` key, an aggregate, or
        `time/unlearn_s`; None when the run has none."""
        if key in self.after:
            return self.after[key]
        if key == "time/unlearn_s":
            return self.unlearn_s
        return self.aggregates.get(key)

    def to_json(self) -> dict:
        """The metrics.json layout (the table above), in the order a job writes it."""
        audit = {f"{AUDIT_PREFIX}{model}/{key}": value for model, values in self.audit.items()
                 for key, value in values.items()}
        return {
            "before": self.before, "after": self.after, **self.aggregates, "stages": self.stages,
            "summary": self.summary, "time/unlearn_s": self.unlearn_s, "time/eval_s": self.eval_s, "cost": self.cost,
            "method": self.method, "method_rank": self.method_rank, "method_label": self.label,
            "forget": self.forget, "backbone": self.backbone, "dataset": self.dataset, "seed": self.seed,
            **({"data/undecodable": self.undecodable} if self.undecodable is not None else {}),
            **audit, **({f"{AUDIT_PREFIX}tow": self.tow} if self.audit.get("gap") else {}),
            **({"config_hash": self.config_hash} if self.config_hash is not None else {}),
            **({"undefined": self.undefined} if self.undefined else {}),
            **({"requests": {i: result.to_json() for i, result in self.requests.items()}} if self.requests else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> RunResult:
        """The record in a metrics.json; NotAResult naming what is missing."""
        missing = [k for k in ("before", "after", "score", *ROW_FIELDS) if k not in data]
        missing += [f"{phase}/{k}" for phase in ("before", "after") for k in REQUIRED_METRICS
                    if k not in (data.get(phase) or {})]
        if missing:
            raise NotAResult(f"missing {', '.join(missing)}")
        audit: dict[str, dict[str, Any]] = {}
        for key, value in data.items():
            model, _, rest = key.removeprefix(AUDIT_PREFIX).partition("/")
            if key.startswith(AUDIT_PREFIX) and rest:
                audit.setdefault(model, {})[rest] = value
        return cls(
            **{k: data[k] for k in ROW_FIELDS}, before=data["before"], after=data["after"],
            aggregates={k: v for k, v in data.items() if k not in _NAMED and not k.startswith(AUDIT_PREFIX)},
            method_rank=data.get("method_rank", DEFAULT_METHOD_RANK), method_label=data.get("method_label"),
            audit=audit, tow=data.get(f"{AUDIT_PREFIX}tow"), stages=data.get("stages") or {},
            summary=data.get("summary") or {}, unlearn_s=data.get("time/unlearn_s"), eval_s=data.get("time/eval_s"),
            cost=data.get("cost") or {}, undecodable=data.get("data/undecodable"),
            config_hash=data.get("config_hash"), undefined=data.get("undefined") or {},
            requests={i: cls.from_json(record) for i, record in (data.get("requests") or {}).items()})
