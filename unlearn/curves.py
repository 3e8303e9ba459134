"""Curves a method records for the report: `artifacts/curves/<name>.json` in a run folder.

    write_curve(ctx.artifact("curves/soup.json"), "a", points, chosen=0.4, x_label="a (souping)",
                rule="largest_below")          # points: [{"a": 0.1, "forget/acc": 0.92, ...}, ...]

The report draws one plot per curve name and table row (every run of the row one thin line per
series, `/acc` series in %, each run's `chosen` x marked), so a method's curves reach the report
without the report knowing the method. Keyword arguments beyond these are kept in the file as
they are (the settings that chose the point). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from unlearn.io import write_json
from unlearn.rundir import ARTIFACTS_DIR, read_json

CURVES_DIR = "curves"  # inside the run folder's artifacts/


@dataclass(frozen=True)
class Curve:
    x: str  # the key of the x values in every point
    x_label: str
    points: list[dict[str, float]]
    chosen: float | None  # the x the method chose, when it chose one

    @property
    def series(self) -> list[str]:
        """The y keys, in the order of the first point."""
        return [k for k in self.points[0] if k != self.x] if self.points else []


def write_curve(path: Path, x: str, points: list[dict[str, float]], chosen: float | None = None,
                x_label: str | None = None, **settings) -> None:
    write_json(path, {"x": x, "x_label": x_label or x, "chosen": chosen, "points": points, **settings})


def read_curves(run_dir: Path) -> dict[str, Curve]:
    """Every curve a run recorded, by name; files that are not curves are left out."""
    curves = {}
    for path in sorted((run_dir / ARTIFACTS_DIR / CURVES_DIR).glob("*.json")):
        data = read_json(path)
        if isinstance(data, dict) and isinstance(data.get("points"), list) and data["points"] \
                and all(isinstance(p, dict) and data.get("x") in p for p in data["points"]):
            curves[path.stem] = Curve(data["x"], data.get("x_label") or data["x"], data["points"], data.get("chosen"))
    return curves
