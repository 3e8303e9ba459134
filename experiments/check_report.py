"""Rerun a sample of the committed report's rows and compare every value with the committed one.

    python experiments/check_report.py            # one row per method and backbone (make check-report)
    python experiments/check_report.py --fast     # a few quick rows (CI runs this)
    python experiments/check_report.py --all      # every row of the report
    python experiments/check_report.py --fast --kernels avx2   # as another x86 machine would (CI)

Each chosen row (dataset, forget, backbone, method, variant, and its units: seeds and pretraining seeds) is
rerun as a sweep through `python -m unlearn`, reported with `python -m unlearn.report`'s code, and
every accuracy and score of the row is compared with the committed value, within TOLERANCE points.
Every row's differences are printed; the exit code is non-zero when any value is out of tolerance.

`--kernels avx2` reruns with the CPU kernels capped at AVX2 (`unlearn.runtime.AVX2_KERNELS`): on a
machine with AVX-512, the arithmetic of a second machine without a second machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from unlearn.config import register_resolvers
from unlearn.report import report
from unlearn.runtime import AVX2_KERNELS

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "experiments" / "results" / "synthetic" / "results.csv"
TOLERANCE = 1.0  # points (accuracies in %, scores 0-100)
FAST = [("grad_ascent", "tiny_rn", "synthetic_subgroup_circle"),
        ("space_adaptation", "tiny_rn", "synthetic_class_heart"),
        ("lipschitz", "tiny_rn", "synthetic_class_heart")]  # the method whose decisions amplify rounding
KERNELS = {"native": {}, "avx2": AVX2_KERNELS}
ROW_KEYS = ("dataset", "forget", "backbone", "method", "variant")


def committed_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return [row for row in csv.DictReader(handle) if row["row"] == "ours"]


def choose(rows: list[dict[str, str]], mode: str) -> list[dict[str, str]]:
    if mode == "all":
        return rows
    if mode == "fast":
        return [row for row in rows if (row["method"], row["backbone"], row["forget"]) in FAST and not row["variant"]]
    first: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        first.setdefault((row["method"], row["backbone"]), row)
    return list(first.values())


def compared_keys(row: dict[str, str]) -> list[str]:
    """The accuracy and score columns the committed row has a value in (not times, not stds)."""
    return [k for k, v in row.items() if v and (k.endswith("/acc") or k in ("score", "paper_score", "average_gain"))]


def unit_overrides(row: dict[str, str]) -> list[str]:
    """The seeds and tiny CLIPs the row's units were measured on, as sweep overrides: the table presets
    cross pretraining seeds with seeds (a single pretraining seed is a cross product too); one pretraining
    seed per seed (`${seed}`) is the older layout; no column, or every run on pretraining seed 0: the default model."""
    seeds, pretrain = row["seeds"].split(), row.get("pretrain_seeds", "").split()
    overrides = [f"seed={','.join(_distinct(seeds))}"]
    if not pretrain or set(pretrain) == {"0"}:
        return overrides
    if pretrain == seeds:
        return ["backbone.pretrain.seed=${seed}", *overrides]
    units = set(zip(pretrain, seeds))
    if len(units) == len(seeds) == len(_distinct(pretrain)) * len(_distinct(seeds)):
        return [f"backbone.pretrain.seed={','.join(_distinct(pretrain))}", *overrides]
    raise ValueError(f"row with seeds {seeds} and pretraining seeds {pretrain}: neither a cross product of the two "
                     "nor one tiny CLIP per seed")


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))  # first-seen order


def rerun(row: dict[str, str], sweep: Path, kernels: str = "native") -> subprocess.CompletedProcess:
    overrides = [f"dataset={row['dataset']}", f"forget={row['forget']}", f"backbone={row['backbone']}",
                 f"method={row['method']}", *row["variant"].split(), *unit_overrides(row), "logger=none"]
    return subprocess.run([sys.executable, "-m", "unlearn", "-m", *overrides, f"hydra.sweep.dir={sweep}"], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **KERNELS[kernels]})


def check(row: dict[str, str], workdir: Path, kernels: str = "native") -> tuple[bool, list[str]]:
    """(within tolerance, the printed lines) for one committed row."""
    label = " ".join(row[k] for k in ROW_KEYS if row[k]) + f" seeds {row['seeds']}"
    proc = rerun(row, workdir / "sweep", kernels)
    if proc.returncode != 0:
        return False, [f"FAIL {label}: the rerun failed: {proc.stderr.strip().splitlines()[-1:]}"]
    tables, _ = report([workdir / "sweep"], workdir / "report", None)
    ours = [r for t in tables for r in t.rows if r.kind == "ours" and r.method == row["method"]]
    if len(ours) != 1:
        return False, [f"FAIL {label}: the rerun's report has {len(ours)} rows for {row['method']}"]
    lines, ok = [], True
    for key in compared_keys(row):
        committed, now = float(row[key]), ours[0].values.get(key, (float("nan"), None))[0]
        diff = now - committed
        within = abs(diff) <= TOLERANCE
        ok &= within
        lines.append(f"    {key:34s} committed {committed:7.2f}  now {now:7.2f}  diff {diff:+6.2f}"
                     f"{'' if within else f'  OUT OF ±{TOLERANCE:g}'}")
    return ok, [f"{'ok  ' if ok else 'FAIL'} {label} (tolerance ±{TOLERANCE:g}, {kernels} kernels)", *lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_const", dest="mode", const="fast", help="a few quick rows (CI)")
    mode.add_argument("--all", action="store_const", dest="mode", const="all", help="every row")
    parser.add_argument("--report", type=Path, default=COMMITTED, help="the committed results.csv to check")
    parser.add_argument("--kernels", choices=sorted(KERNELS), default="native",
                        help="the CPU kernels to rerun with (avx2: as an x86 machine without AVX-512)")
    args = parser.parse_args(argv)
    register_resolvers()
    rows = choose(committed_rows(args.report), args.mode or "sample")
    if not rows:
        parser.error(f"no rows of {args.report} to check")
    failed = 0
    for i, row in enumerate(rows, 1):
        with tempfile.TemporaryDirectory() as tmp:
            ok, lines = check(row, Path(tmp), args.kernels)
        print(f"[{i}/{len(rows)}]", *lines, sep="\n", flush=True)
        failed += not ok
    print(f"{len(rows) - failed} of {len(rows)} rows reproduce within tolerance")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
