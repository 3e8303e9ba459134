"""The audit's meta-evaluation as the report reads it: on which forget spec and backbone each audit
measure told the shallow control (`method=mask_name`) from the deep one (`method=retrain`).

`experiments/audit_validity.py` (`make audit-validity`) writes `validity.csv`, one row per spec,
backbone and measure; the committed one is DEFAULT_VALIDITY. The report prints "no signal" in
place of an unlearned model's value where its measure had none there (for a depth column: where the
measure it is the depth of had none), since a number would read as evidence it is not. Torch-free.

| column    | what the report reads                                              |
|-----------|--------------------------------------------------------------------|
| `spec`, `backbone`, `measure` | the key: forget preset, backbone preset, audit key (`relearn/1/forget/acc`, ...) |
| `verdict` | `signal`, or `no signal` with its reason; `not judged` (no shallow control on the spec): left out, as for a spec the table lacks |
| `auroc`, `effect` | shown beside the verdict (empty where undefined)            |
| `deep spread` | the retrained models' own spread over pretraining seeds: a depth column is undefined where a run's original and reference differ by less than DEPTH_NOISE of it (optional: older tables lack it) |
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from unlearn.errors import UnlearnError

DEFAULT_VALIDITY = Path(__file__).resolve().parents[1] / "experiments" / "results" / "audit_validity" / "validity.csv"
COLUMNS = ("spec", "backbone", "measure", "auroc", "effect", "verdict")
# a depth divides by the original's distance to one retrained reference; another pretraining seed's
# reference moves by about the deep spread, so a distance under two of them is mostly that noise
DEPTH_NOISE = 2.0


@dataclass(frozen=True)
class Verdict:
    signal: bool
    auroc: float | None
    effect: float | None
    deep_spread: float | None = None

    @property
    def evidence(self) -> str:
        if self.auroc is None or self.effect is None:
            return "not measurable on the controls"
        return f"AUROC {self.auroc:.2f}, effect {self.effect:.1f}"

    def __str__(self) -> str:
        return f"{'signal' if self.signal else 'no signal'} ({self.evidence})"


def read_validity(path: Path) -> dict[tuple[str, str, str], Verdict]:
    """(spec, backbone, measure) -> its Verdict; one line naming the file when it is not a validity table."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise UnlearnError(f"cannot read the audit validity table {path} ({err.strerror or err})") from None
    missing = [c for c in COLUMNS if rows and c not in rows[0]]
    if not rows or missing:
        raise UnlearnError(f"{path} is not an audit validity table (experiments/audit_validity.py): "
                           f"{'no rows' if not rows else 'no column ' + ', '.join(missing)}")
    return {(r["spec"], r["backbone"], r["measure"]): Verdict(r["verdict"] == "signal", _number(r["auroc"]),
                                                             _number(r["effect"]), _number(r.get("deep spread", "")))
            for r in rows if not r["verdict"].startswith("not judged")}


def _number(text: str) -> float | None:
    return float(text) if text not in ("", "None") else None
