"""`python -m unlearn.report <sweep dir> ... [--out DIR]`: tables and plots from finished runs.

Collects every run folder under the given folders (a run folder holds `metrics.json`,
`status.json` and `.hydra/`), groups the complete ones by (dataset, forget, backbone, method,
variant) and aggregates over units (one unit = a pretraining seed and a seed): mean, a 95 %
t interval and n, with the best method per column and every method a paired test cannot tell
from it marked (unlearn/stats.py). The variant is what a run's command
line changed beyond those groups and the seed (e.g. `method.lr=0.001`), and runs whose composed
configs differ in anything else that determines the result are never averaged together.

Writes into --out (default `<first dir>/report`):
  results.md    one table per (dataset, forget) in the papers' column layout
                (Target↓ Retain↑ Others↑ <zero-shot suites>↑ Score↑ Paper Score↑ Avg gain↓), the original model's row
                (the runs' `before` metrics) first, published numbers right below a matching row
  results.csv   the same rows, one line each: per metric mean, std, interval and p against the best
  results.tex   the tables as LaTeX (booktabs)
  requests.csv  jobs with deletion requests: every request's measurement (unlearn/report_requests.py)
  tradeoff_<dataset>_<forget>.png   forget vs retain accuracy, one colour per method
  <curve>_<...>.png                 each curve a method recorded (unlearn/curves.py), per row

Accuracies are in %, the score in points (0-100). Incomplete runs (no metrics.json, or a
status other than complete) are skipped and listed. Works from the run folders alone (no W&B).

Published numbers come from `experiments/reference/*.csv` (see its README): a reference row is
shown below one of our rows when dataset, forget, backbone and method are equal and every
`key=value` of its `settings` holds in the composed config of all the row's runs.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from omegaconf import DictConfig, OmegaConf

from unlearn.config import register_resolvers
from unlearn.errors import UnlearnError
from unlearn.io import atomic_write, digest
from unlearn.metrics import SCORES
from unlearn.metrics.relearn_curve import forget_curve
from unlearn.plotting import figure, save_png
from unlearn.curves import Curve, read_curves
from unlearn.report_requests import csv_rows as request_csv_rows, plot_requests, request_lines
from unlearn.results import RunResult
from unlearn.rundir import JOB_PHASES, LOADING_FIELDS, RunFolder, config_hash, find_run_dirs, load_run
from unlearn.stats import Estimate, best_and_ties, estimate, paired, tied_with_best
from unlearn.validity import DEFAULT_VALIDITY, DEPTH_NOISE, Verdict, read_validity

DEFAULT_REFERENCE_DIR = Path(__file__).resolve().parents[1] / "experiments" / "reference"
# with the seed, what a run is one sample of (a unit): the tiny CLIP it started from, never a setting of its own
PRETRAIN_SEED = "backbone.pretrain.seed"
# command-line keys that pick the row (dataset, forget or a setting of both, backbone, method, seed) or
# change only bookkeeping; every other override of a run names its variant
NOT_VARIANT_KEYS = {"seed", PRETRAIN_SEED, "dataset", "forget", "setting", "backbone", "method", "experiment", "logger",
                    "resume", "device", "num_threads", "save_checkpoint", "eval.batch_size", "audit", "cache", "local_parallelism",
                    "requests", "mode"}  # requests: the table's forget column; mode: the method's label says it
# groups whose every key is bookkeeping or says how data is read (the data caches are exact)
NOT_VARIANT_GROUPS = ("logger.", "hydra.", "cache.")
# config keys that add measurements without changing the run's accuracies: runs differing there share a row
MEASUREMENT_ONLY = ("audit", "eval.metrics")
ACCURACY_COLUMNS = {"forget/acc": "Target ↓", "retain/acc": "Retain ↑", "others/acc": "Others ↑"}
REQUEST_KEY = re.compile(r"forget/(\d+)/acc")  # deletion request j's own forget images (unlearn/requests.py)
# aggregate scores (unlearn/metrics/formulas.py) and times: a column only when some row of the table has it
EXTRA_COLUMNS = {"score": "Score ↑", "paper_score": "Paper Score ↑", "average_gain": "Avg gain ↓",
                 "time/unlearn_s": "Unlearn s"}


@dataclass
class Run:
    path: Path
    result: RunResult
    variant: str  # the run's result-changing overrides beyond the row keys, e.g. "method.lr=0.001"
    setting: str  # hash of the result config without the seed: runs that differ only by seed share it
    base: str  # the same without the method: runs that share it measured the same original model
    config: DictConfig | None
    curves: dict[str, Curve]  # what the method recorded in artifacts/curves/, by name
    pretrain_seed: int | None = None  # the tiny CLIP's pretraining seed (None: not a tiny backbone)

    @property
    def block(self) -> tuple[str, str]:
        return self.result.dataset, self.result.forget


@dataclass
class Row:
    """One table row: ours (aggregated over units), the original model, or published numbers."""

    kind: str  # ours | original | published
    backbone: str
    method: str
    variant: str = ""
    values: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # key -> (mean, std)
    units: dict[str, dict[tuple, float]] = field(default_factory=dict)  # key -> unit -> value (not published rows)
    p_vs_best: dict[str, float | None] = field(default_factory=dict)  # key -> paired p against the column's best
    best: set[str] = field(default_factory=set)  # keys where the row is best or tied with the best
    seeds: list[int] = field(default_factory=list)
    pretrain_seeds: list[int] = field(default_factory=list)  # each run's tiny CLIP, beside `seeds` (a unit each)
    reference: str = ""  # published rows: paper and table
    caveat: str = ""
    runs: list[Run] = field(default_factory=list)

    def estimate(self, key: str) -> Estimate | None:
        units = self.units.get(key)
        return estimate(list(units.values())) if units else None

    @property
    def rank(self) -> float:
        """Where the row's method goes (RunResult.method_rank, from the method registry)."""
        return self.runs[0].result.method_rank

    @property
    def label(self) -> str:
        """The method's name in tables and legends (RunResult.label)."""
        return self.runs[0].result.label if self.runs else self.method


@dataclass
class Table:
    dataset: str
    forget: str
    rows: list[Row]
    # (backbone, audit measure) -> whether it told the shallow control from the deep one on this
    # forget spec (unlearn/validity.py); empty when no validity table was read
    validity: dict[tuple[str, str], Verdict] = field(default_factory=dict)

    @property
    def suites(self) -> list[str]:
        keys = {k for row in self.rows if row.kind != "published" for k in row.values if k.startswith("zeroshot/")}
        return sorted(keys)

    @property
    def columns(self) -> list[tuple[str, str]]:
        suites = [(k, f"{k.removeprefix('zeroshot/').removesuffix('/acc')} ↑") for k in self.suites]
        extras = [(k, label) for k, label in EXTRA_COLUMNS.items() if any(k in row.values for row in self.rows)]
        requests = sorted({k for row in self.rows for k in row.values if REQUEST_KEY.fullmatch(k)},
                          key=lambda k: int(REQUEST_KEY.fullmatch(k)[1]))
        named = {*ACCURACY_COLUMNS, *self.suites, *EXTRA_COLUMNS, *requests}
        # any other metric's keys (a plugin's), under their own names and in their own units
        others = sorted({k for row in self.rows if row.kind != "published" for k in row.values} - named)
        return [*ACCURACY_COLUMNS.items(), *((k, f"R{REQUEST_KEY.fullmatch(k)[1]} ↓") for k in requests), *suites,
                *extras, *((k, k) for k in others)]

    @property
    def slug(self) -> str:
        return _slug(f"{self.dataset}_{self.forget}")


# ---------------------------------------------------------------- collecting runs

def to_run(folder: RunFolder) -> Run:
    return Run(path=folder.path, result=folder.result, variant=variant_label(folder.overrides),
               setting=_digest(folder.config, exclude=("seed", PRETRAIN_SEED, *MEASUREMENT_ONLY)),
               # deletion requests honoured in sequence or at once start from the same original
               base=_digest(folder.config, exclude=("seed", PRETRAIN_SEED, "method", "mode", *MEASUREMENT_ONLY)),
               config=folder.config, curves=read_curves(folder.path),
               pretrain_seed=_pretrain_seed(folder.config))


def _pretrain_seed(config: DictConfig | None) -> int | None:
    """The resolved `backbone.pretrain.seed` (a sweep over it, or `${seed}`): half of the run's unit,
    so the setting hash leaves it out and a row's runs may differ in it."""
    seed = OmegaConf.select(config, "backbone.pretrain.seed", default=None) if config is not None else None
    return None if seed is None else int(seed)


def _digest(config: DictConfig | None, exclude: tuple[str, ...]) -> str:
    return config_hash(config, exclude)[:6] if config is not None else ""


def variant_label(overrides: list[str]) -> str:
    """The overrides that make this run a variant of its method, sorted: 'method.lr=0.001 method.steps=50'."""
    kept = []
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key.split("@")[-1].startswith(MEASUREMENT_ONLY):  # a measurement added or set: the same unlearning
            continue
        if (key.split("@")[0] not in NOT_VARIANT_KEYS and key.rsplit(".", 1)[-1] not in LOADING_FIELDS
                and not key.startswith(NOT_VARIANT_GROUPS)):
            kept.append(override.lstrip("+~"))
    return " ".join(sorted(kept))


def collect(roots: list[Path]) -> tuple[list[Run], list[tuple[Path, str]]]:
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise UnlearnError(f"no such folder: {', '.join(missing)}; give sweep or run folders (e.g. outputs/multiruns/<sweep>)")
    runs, skipped = [], []
    for path in find_run_dirs(roots):
        run = load_run(path)
        if isinstance(run, RunFolder):
            runs.append(to_run(run))
        else:
            skipped.append((path, run))
    return runs, skipped


# ---------------------------------------------------------------- aggregating

def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    found = estimate(values)
    return found.mean, found.std


def display_value(key: str, value: float) -> float:
    """Accuracies in %, the score and times as they are."""
    return 100.0 * value if key.endswith("/acc") else value


def aggregate(phase_dicts: list[dict[str, float]], results: list[RunResult] = ()) -> dict:
    """Mean ± std of every key of the phase dicts (`before` or `after`), and of EXTRA_COLUMNS
    from the runs' results."""
    keys = {k for d in phase_dicts for k in d}
    values = {k: mean_std([display_value(k, d[k]) for d in phase_dicts if k in d]) for k in sorted(keys)}
    for key in EXTRA_COLUMNS:
        present = [v for r in results if (v := r.value(key)) is not None]
        if present:
            values[key] = mean_std(present)
    return values


def unit(run: Run) -> tuple:
    """What a run is one sample of: its tiny CLIP's pretraining seed and its own seed."""
    return (run.pretrain_seed, run.result.seed)


def unit_values(runs: list[Run], phase: str) -> dict[str, dict[tuple, float]]:
    """key -> unit -> value (display units) of the runs' `phase` metrics, and of EXTRA_COLUMNS
    after unlearning."""
    out: dict[str, dict[tuple, float]] = defaultdict(dict)
    for run in runs:
        metrics = getattr(run.result, phase)
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                out[key][unit(run)] = display_value(key, value)
        if phase == "after":
            for key in EXTRA_COLUMNS:
                if (value := run.result.value(key)) is not None:
                    out[key][unit(run)] = value
    return dict(out)


def mark_best(rows: list[Row], columns: list[tuple[str, str]]) -> None:
    """Per column with a direction (↑ / ↓ in its label), among one backbone's method rows: the best
    mean, and each other row's paired p against it (unlearn/stats.py)."""
    for key, label in columns:
        if not label.endswith(("↑", "↓")):
            continue
        best, p_values = best_and_ties({id(row): row.units.get(key, {}) for row in rows}, label.endswith("↑"))
        for row in rows:
            if id(row) == best:
                row.best.add(key)
            elif id(row) in p_values:
                row.p_vs_best[key] = p_values[id(row)]
                if tied_with_best(p_values[id(row)]):
                    row.best.add(key)


def one_run_per_unit(runs: list[Run], skipped: list[tuple[Path, str]]) -> list[Run]:
    """Identical configs and unit give identical results: count each unit once (the first found,
    in the order the folders were given), in the order of the units."""
    kept: dict[tuple, Run] = {}
    for run in runs:
        if unit(run) in kept:
            skipped.append((run.path, f"duplicate of {kept[unit(run)].path} (same setting, seed and pretraining seed)"))
        else:
            kept[unit(run)] = run
    return [kept[u] for u in sorted(kept, key=_unit_order)]


def _unit_order(key: tuple) -> tuple:
    pretrain_seed, seed = key
    return (-1 if pretrain_seed is None else pretrain_seed, seed)


def build_tables(runs: list[Run], references: list[dict], skipped: list[tuple[Path, str]],
                 validity: dict[tuple[str, str, str], Verdict] | None = None) -> list[Table]:
    blocks: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        blocks[run.block].append(run)
    tables = [Table(dataset, forget, _block_rows(dataset, forget, blocks[(dataset, forget)], references, skipped),
                    {(b, m): v for (spec, b, m), v in (validity or {}).items() if spec == forget})
              for dataset, forget in sorted(blocks)]
    for table in tables:
        for backbone in dict.fromkeys(row.backbone for row in table.rows):
            mark_best([r for r in table.rows if r.kind == "ours" and r.backbone == backbone], table.columns)
    return tables


def _block_rows(dataset: str, forget: str, runs: list[Run], references: list[dict], skipped) -> list[Row]:
    rows = []

    def with_published(row: Row) -> list[Row]:
        return [row] + [Row("published", row.backbone, row.method, ref["settings"], values=ref["values"],
                            reference=f"{ref['paper']}, table {ref['table']}", caveat=ref["caveat"])
                        for ref in references if reference_matches(ref, row, dataset, forget)]

    for backbone in sorted({r.result.backbone for r in runs}):
        mine = [r for r in runs if r.result.backbone == backbone]
        bases = sorted({r.base for r in mine})
        for base in bases:
            tag = f" [cfg {base}]" if len(bases) > 1 else ""
            rows += with_published(_original_row(backbone, [r for r in mine if r.base == base], tag))
        groups: dict[tuple, list[Run]] = defaultdict(list)
        for run in mine:
            groups[(run.result.method, run.variant, run.setting)].append(run)
        labels = defaultdict(set)  # a row's label (its method's, with a mode of deletion requests) -> its settings
        for (_, variant, setting), group in groups.items():
            labels[(group[0].result.label, variant)].add(setting)
        ranks = {r.result.method: r.result.method_rank for r in mine}
        for method, variant, setting in sorted(groups, key=lambda k: (ranks[k[0]], k[0], k[1], k[2])):
            group = one_run_per_unit(groups[(method, variant, setting)], skipped)
            tag = f" [cfg {setting}]" if len(labels[(group[0].result.label, variant)]) > 1 else ""
            row = Row("ours", backbone, method, variant + tag, seeds=[r.result.seed for r in group], runs=group,
                      pretrain_seeds=_pretrain_seeds(group), units=unit_values(group, "after"),
                      values=aggregate([r.result.after for r in group], [r.result for r in group]))
            rows += with_published(row)
    return rows


def _pretrain_seeds(runs: list[Run]) -> list[int]:
    """Each run's pretraining seed, in the runs' order; empty unless every run has one."""
    seeds = [r.pretrain_seed for r in runs]
    return [] if None in seeds else seeds


def _original_row(backbone: str, runs: list[Run], tag: str) -> Row:
    """The original model, from the runs' `before` metrics (one measurement per unit)."""
    per_unit: dict[tuple, Run] = {}
    for run in runs:
        per_unit.setdefault(unit(run), run)
    firsts = [per_unit[u] for u in sorted(per_unit, key=_unit_order)]
    return Row("original", backbone, "original", tag.strip(), seeds=[r.result.seed for r in firsts],
               pretrain_seeds=_pretrain_seeds(firsts), units=unit_values(firsts, "before"),
               values=aggregate([run.result.before for run in firsts]))


# ---------------------------------------------------------------- published numbers

REFERENCE_FIELDS = ("paper", "table", "dataset", "forget", "backbone", "method", "settings", "caveat")


def load_references(folder: Path | None) -> list[dict]:
    """Rows of every CSV in `folder`: REFERENCE_FIELDS plus metric columns (`forget/acc`, ...,
    `score`) in % / points, empty where the paper reports none."""
    if folder is None or not folder.is_dir():
        return []
    rows = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [f for f in REFERENCE_FIELDS if f not in (reader.fieldnames or [])]
            if missing:
                raise UnlearnError(f"reference file {path} lacks column(s) {', '.join(missing)}; "
                                   f"expected {', '.join(REFERENCE_FIELDS)} and metric columns")
            rows += [_reference_row(path, line) for line in reader]
    return rows


def _reference_row(path: Path, line: dict[str, str]) -> dict:
    row = {k: line[k] or "" for k in REFERENCE_FIELDS}
    try:
        row["values"] = {k: (float(v), None) for k, v in line.items() if _is_metric(k) and v}
    except ValueError as err:
        raise UnlearnError(f"reference file {path}: {err} in the row {line['method']}/{line['backbone']}") from None
    return row


def _is_metric(column: str) -> bool:
    return column.endswith("/acc") or column in SCORES


def reference_matches(ref: dict, row: Row, dataset: str, forget: str) -> bool:
    if (ref["dataset"], ref["forget"], ref["backbone"], ref["method"]) != (dataset, forget, row.backbone, row.method):
        return False
    settings = [s.split("=", 1) for s in ref["settings"].split()]
    if row.kind == "original":  # the models before unlearning: no method settings to check
        return not settings
    return all(run.config is not None
               and OmegaConf.select(run.config, key, throw_on_resolution_failure=False) == yaml.safe_load(value)
               for run in row.runs for key, value in settings)


# ---------------------------------------------------------------- writing tables

def format_cell(row: Row, key: str) -> str:
    """`mean ± half-width of the 95 % interval` over the row's units (published rows: the number as
    printed), in bold where the row is its column's best or not significantly different from it."""
    found = row.estimate(key)
    if found is None:
        if key not in row.values or row.values[key][0] is None or math.isnan(row.values[key][0]):
            return "–"
        return f"{row.values[key][0]:.1f}"
    text = f"{found.mean:.1f}" if found.half_width is None else f"{found.mean:.1f} ± {found.half_width:.1f}"
    return f"**{text}**" if key in row.best else text


def _method_label(row: Row, note: int | None) -> str:
    if row.kind == "published":
        return f"↳ published ({row.reference})" + (f" [{note}]" if note else "")
    return "original (before)" if row.kind == "original" else row.label


def _notes(tables: list[Table]) -> dict[str, int]:
    """Caveat text -> footnote number, in order of first appearance."""
    notes: dict[str, int] = {}
    for table in tables:
        for row in table.rows:
            if row.caveat and row.caveat not in notes:
                notes[row.caveat] = len(notes) + 1
    return notes


def _has_variants(table: Table) -> bool:
    return any(row.variant for row in table.rows)


def _row_cells(table: Table, row: Row, notes: dict[str, int]) -> list[str]:
    cells = [row.backbone, _method_label(row, notes.get(row.caveat))]
    if _has_variants(table):
        cells.append(row.variant)
    cells.append(str(len(row.seeds)) if row.seeds else "–")
    return cells + [format_cell(row, key) for key, _ in table.columns]


def _header(table: Table) -> list[str]:
    return ["Backbone", "Method", *(["Variant"] if _has_variants(table) else []), "n",
            *[label for _, label in table.columns]]


def markdown(tables: list[Table], skipped: list[tuple[Path, str]], plots: dict[str, list[Path]]) -> str:
    notes = _notes(tables)
    lines = ["# Results", "",
             "Zero-shot top-1 accuracy in %; Score (ours), Paper Score (the three-stage paper's) and Avg gain "
             "(the space-adaptation paper's aggregate, lower is better) in points (unlearn/metrics/formulas.py); mean ± the "
             "half-width of its 95 % t interval over n units (a unit: one seed and the tiny CLIP it started from, its "
             "pretraining seed; the `*_synthetic` table presets cross pretraining seeds 0-2 with seeds 0-1: the "
             "interval covers both; results.csv `seeds`, `pretrain_seeds`). **Bold**: per backbone and column with "
             "↑ / ↓, the best method and every method a "
             "paired t-test over the shared units cannot tell from it (p ≥ 0.05; results.csv `<key> p_vs_best`; "
             "`python -m unlearn.report DIR --compare A B` for any two; unlearn/stats.py says why this test). "
             "Target: the forget set; Retain: the retain set; Others: every class outside the forget classes; "
             "further columns: held-out zero-shot suites. `original (before)`: the model before unlearning (the "
             "runs' `before` metrics); `original`: runs of the no-op method. `↳ published`: the paper's numbers for the row above.", ""]
    for table in tables:
        lines += [f"## {table.dataset} · {table.forget}", "", "| " + " | ".join(_header(table)) + " |",
                  "|" + "---|" * len(_header(table))]
        lines += ["| " + " | ".join(_row_cells(table, row, notes)) + " |" for row in table.rows]
        lines += [""] + [f"![{path.stem}]({path.name})" for path in plots.get(table.slug, [])] + [""]
        lines += request_lines(table, plots.get(f"{table.slug}/requests", []))
        lines += audit_lines(table)
        lines += cost_lines(table)
    if notes:
        lines += ["Notes on published numbers:", ""] + [f"[{n}] {text}" for text, n in notes.items()] + [""]
    if skipped:
        lines += [f"## Skipped runs ({len(skipped)})", ""] + [f"- `{path}`: {why}" for path, why in skipped] + [""]
    return "\n".join(lines)


AUDIT_COLUMNS = {  # key under audit/<model>/ -> column; accuracies in %
    "relearn/1/forget/acc": "Relearn@1 ↓", "relearn/10/forget/acc": "Relearn@10 ↓",
    "relearn/mean/forget/acc": "Relearn mean ↓",
    "relearn/steps_to_half": "Steps to half ↑", "probe/forget/acc": "Probe forget ↓",
    "probe/retain/acc": "Probe retain ↑", "mia/power": "MIA power", "mia/efficacy": "MIA efficacy ↑",
    "prompts/worst": "Other prompts ↓",
}


# depth (unlearn/audit.py: 0 = the original, 1 = the reference) of the two accuracies that told the
# shallow control from the deep one on every class spec over pretraining seeds (experiments/results/
# audit_validity: the probe by 6.2-57.7 noise floors, the relearning mean by 2.2-5.0; no single
# relearning step did on all three).
DEPTH_COLUMNS = {"probe/forget/acc": "Probe depth ↑", "relearn/mean/forget/acc": "Relearn mean depth ↑"}


def audited(run: Run, model: str) -> dict[str, float]:
    """One run's audit of `model` (unlearn/audit.py) by AUDIT_COLUMNS key; `prompts/worst` is the
    highest forget accuracy over its prompt sets (the prompts that recover the most)."""
    values = dict(run.result.audit.get(model, {}))
    prompts = [v for k, v in values.items() if k.startswith("prompts/") and k.endswith("/forget/acc") and v is not None]
    if prompts:
        values["prompts/worst"] = max(prompts)
    return values


def _against_reference(result: RunResult, floors: dict[str, float]) -> dict:
    """ToW, the mean gap and the depths (DEPTH_COLUMNS) against the reference, when the run had one;
    a depth is None where the original and the reference differ by less than DEPTH_NOISE times the
    measure's floor (the retrained models' own spread over pretraining seeds: `floors`)."""
    if "gap" not in result.audit:
        return {}
    depth = result.audit.get("depth", {})
    original, reference = result.audit.get("original", {}), result.audit.get("reference", {})

    def within_noise(key: str) -> bool:
        if key not in floors or original.get(key) is None or reference.get(key) is None:
            return False
        return abs(original[key] - reference[key]) < DEPTH_NOISE * floors[key]

    return {"tow": result.tow, "gap/mean": result.audit["gap"].get("mean"),
            **{f"depth/{key}": None if within_noise(key) else depth.get(key) for key in DEPTH_COLUMNS}}


def _depth_floors(table: Table, backbone: str) -> dict[str, float]:
    """measure -> the deep control's spread over pretraining seeds on this spec and backbone, where
    the meta-evaluation measured it."""
    return {measure: verdict.deep_spread for (b, measure), verdict in table.validity.items()
            if b == backbone and verdict.deep_spread is not None}


def audit_lines(table: Table) -> list[str]:
    """The audit per row (mean ± interval over units): the original and reference models once per
    backbone, then every method's unlearned model; gap and ToW when a reference was audited."""
    rows = []
    for backbone in dict.fromkeys(row.backbone for row in table.rows):
        runs = [run for row in table.rows if row.kind == "ours" and row.backbone == backbone for run in row.runs]
        for model in ("original", "reference"):
            first = {}
            for run in runs:
                if values := audited(run, model):
                    first.setdefault(unit(run), values)
            if first:
                rows.append([backbone, f"{model} model", "", _audit_values(list(first.values()))])
        for row in (r for r in table.rows if r.kind == "ours" and r.backbone == backbone):
            floors = _depth_floors(table, backbone)
            per_run = [audited(run, "unlearned") | _against_reference(run.result, floors) for run in row.runs]
            if any(per_run):
                values = _audit_values(per_run)
                rows.append([backbone, row.label, row.variant,  # an undefined value stays "–" (its reason: undefined)
                             values | {key: NO_SIGNAL for key, value in values.items()
                                       if value is not None and not _has_signal(table, backbone, key)}])
    if not rows:
        return []
    extra = {"tow": "ToW ↑", "gap/mean": "Gap to ref ↓", **{f"depth/{k}": v for k, v in DEPTH_COLUMNS.items()}}
    columns = {**AUDIT_COLUMNS, **{k: v for k, v in extra.items() if any(k in r[3] for r in rows)}}
    variants = any(r[2] for r in rows)
    header = ["Backbone", "Model", *(["Variant"] if variants else []), *columns.values()]
    lines = ["Audit (audit=standard; accuracies in %, mean ± 95 % interval half-width over units; unlearn/audit.py): Relearn@k = forget "
             "accuracy after k fine-tuning steps on 8 forget images, Relearn mean = its mean over the recorded k, "
             "Steps to half = the first k that recovers half "
             "of the original's forget accuracy (never: –), Probe = linear probe on frozen image features, MIA "
             "power = the membership attack's cross-validated AUC on held-out members vs non-members (0.5: chance), "
             "MIA efficacy = share of forget images called non-members (–: the attack has no power, "
             "metric.mia.min_power), Other prompts = the highest forget accuracy "
             "over the paraphrase and attribute prompt sets, Gap/ToW = against the reference model, depth = (original − "
             "unlearned) / (original − reference): 0 as shallow as the original, 1 as deep as the reference (–: the two "
             f"differ by less than audit.min_gap, or by less than {DEPTH_NOISE:g} × the retrained models' own spread over "
             "pretraining seeds where the meta-evaluation measured it, experiments/results/audit_validity).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for backbone, model, variant, values in rows:
        cells = [_audit_cell(key, values.get(key)) for key in columns]
        lines.append("| " + " | ".join([backbone, model, *([variant] if variants else []), *cells]) + " |")
    return lines + [""] + _validity_lines(table, columns)


NO_SIGNAL = "no signal"


def _has_signal(table: Table, backbone: str, key: str) -> bool:
    """False where the meta-evaluation found the measure (for a depth: the measure it is the depth
    of) unable to tell the shallow control from the deep one on this spec and backbone."""
    verdict = table.validity.get((backbone, key.removeprefix("depth/")))
    return verdict is None or verdict.signal


def _validity_lines(table: Table, columns: dict[str, str]) -> list[str]:
    """What the meta-evaluation says of this table's measures: the ones an unlearned model's cell
    says "no signal" for, and zero-shot forget accuracy's own verdict."""
    lines = []
    shown = {row.backbone for row in table.rows}
    for backbone in (b for b in dict.fromkeys(b for b, _ in table.validity) if b in shown):
        mute = [f"{label} ({table.validity[(backbone, key.removeprefix('depth/'))].evidence})"
                for key, label in columns.items() if not _has_signal(table, backbone, key)]
        zero_shot = table.validity.get((backbone, "forget/acc"))
        lines.append(f"Validity on {table.forget} · {backbone} (the shallow control against the deep one over "
                     f"pretraining seeds, experiments/results/audit_validity): "
                     + (f"no signal, so no number for an unlearned model: {'; '.join(mute)}. " if mute else
                        "every measure shown separated them. ")
                     + (f"Zero-shot forget accuracy (Target): {zero_shot}." if zero_shot else ""))
    return [*lines, ""] if lines else []


def _audit_values(per_run: list[dict]) -> dict[str, Estimate | str | None]:
    keys = {k for values in per_run for k in values}
    out = {}
    for key in keys:
        present = [v[key] for v in per_run if v.get(key) is not None]
        out[key] = estimate(present) if present else None
    return out


def _audit_cell(key: str, value: Estimate | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):  # NO_SIGNAL
        return value
    scale = 1.0 if key in ("relearn/steps_to_half", "tow", "mia/power") or key.startswith("depth/") else 100.0
    digits = 1 if scale == 100.0 or key == "relearn/steps_to_half" else 3
    half = value.half_width
    return f"{scale * value.mean:.{digits}f}" + (f" ± {scale * half:.{digits}f}" if half is not None else "")


def cost_lines(table: Table) -> list[str]:
    """Per row, what its runs spent per phase (unlearn/cost.py): mean seconds / images decoded /
    images encoded over its seeds; nothing when no run recorded a cost."""
    rows = [row for row in table.rows if row.kind == "ours" and any(run.result.cost for run in row.runs)]
    if not rows:
        return []
    recorded = {p for row in rows for run in row.runs for p in run.result.cost}
    # in the order a job runs them: data preparation, the original's evaluation, the method (its phases),
    # the last evaluation
    first = JOB_PHASES[:JOB_PHASES.index("before_eval") + 1]
    phases = sorted(recorded, key=lambda p: (first.index(p) if p in first else len(first), p == "after_eval",
                                             p != "unlearn", p))

    def cell(row: Row, name: str) -> str:
        spent = [run.result.cost[name] for run in row.runs if name in run.result.cost]
        if not spent:
            return "–"
        mean = {k: float(np.mean([s[k] for s in spent])) for k in ("seconds", "images_decoded", "images_encoded")}
        return f"{mean['seconds']:.1f} s / {mean['images_decoded']:.0f} / {mean['images_encoded']:.0f}"

    header = ["Backbone", "Method", *(["Variant"] if _has_variants(table) else []), *phases]
    lines = ["Cost per phase (seconds / images decoded / images encoded, mean over units; `unlearn` includes the "
             "method's own phases and its stage evaluations):", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for row in rows:
        label = [row.backbone, row.label, *([row.variant] if _has_variants(table) else [])]
        lines.append("| " + " | ".join(label + [cell(row, name) for name in phases]) + " |")
    return lines + [""]


def csv_rows(tables: list[Table]) -> tuple[list[str], list[list]]:
    keys = list(dict.fromkeys(key for table in tables for key, _ in table.columns))
    header = ["dataset", "forget", "backbone", "row", "method", "variant", "n", "seeds", "pretrain_seeds", "reference",
              "caveat"]
    header += [name for key in keys for name in (key, f"{key} std", f"{key} ci_low", f"{key} ci_high", f"{key} p_vs_best")]
    rows = []
    for table in tables:
        for row in table.rows:
            values = [v for key in keys for v in (*row.values.get(key, ("", "")), *_interval(row, key),
                                                   row.p_vs_best.get(key, ""))]
            rows.append([table.dataset, table.forget, row.backbone, row.kind, row.method, row.variant,
                         len(row.seeds) or "", " ".join(map(str, row.seeds)), " ".join(map(str, row.pretrain_seeds)),
                         row.reference, row.caveat,
                         *["" if v is None else v for v in values]])
    return header, rows


def compare_lines(tables: list[Table], a: str, b: str) -> list[str]:
    """Method `a` − method `b`, column by column over the units both rows have: the mean paired
    difference, its 95 % interval, the paired t-test's p and n (unlearn/stats.py)."""
    lines = []
    for table in tables:
        for backbone in dict.fromkeys(row.backbone for row in table.rows):
            ours = [r for r in table.rows if r.kind == "ours" and r.backbone == backbone]
            for row_a in (r for r in ours if r.method == a):
                for row_b in (r for r in ours if r.method == b):
                    names = [f"{r.label}{f' ({r.variant})' if r.variant else ''}" for r in (row_a, row_b)]
                    lines += ["", f"{table.dataset} · {table.forget} · {backbone}: {names[0]} − {names[1]}"]
                    for key, label in table.columns:
                        test = paired(row_a.units.get(key, {}), row_b.units.get(key, {}))
                        if test is None:
                            continue
                        d = test.difference
                        interval = "" if d.low is None else f" [{d.low:+.2f}, {d.high:+.2f}]"
                        p_text = "–" if test.p is None else f"{test.p:.3g}"
                        lines.append(f"  {label:<24} {d.mean:+8.2f}{interval}  p {p_text}  n {test.n}")
    if not lines:
        raise UnlearnError(f"no table has rows of both methods {a!r} and {b!r}; methods found: "
                           f"{', '.join(sorted({r.method for t in tables for r in t.rows if r.kind == 'ours'}))}")
    return lines


def _interval(row: Row, key: str) -> tuple:
    found = row.estimate(key)
    return ("", "") if found is None or found.low is None else (found.low, found.high)


def latex(tables: list[Table]) -> str:
    notes = _notes(tables)
    out = ["% Generated by python -m unlearn.report; needs \\usepackage{booktabs}."]
    for table in tables:
        header = [_tex(cell) for cell in _header(table)]
        out += ["", "\\begin{table}[t]", "\\centering",
                f"\\caption{{{_tex(table.dataset)}: forget {_tex(table.forget)}. Accuracy (\\%), mean $\\pm$ the half-width "
                "of its 95\\% t interval over $n$ units; bold: the best method per column and every method a paired "
                "t-test cannot tell from it ($p \\geq 0.05$).}",
                "\\begin{tabular}{" + "l" * (len(header) - len(table.columns)) + "r" * len(table.columns) + "}",
                "\\toprule", " & ".join(header) + " \\\\", "\\midrule"]
        for row in table.rows:
            cells = [f"\\textbf{{{_tex(cell[2:-2])}}}" if cell.startswith("**") else _tex(cell)
                     for cell in _row_cells(table, row, notes)]
            if row.kind == "published":
                cells[1] = f"\\quad\\textit{{published ({_tex(row.reference)})}}" + (
                    f"\\textsuperscript{{{notes[row.caveat]}}}" if row.caveat else "")
            out.append(" & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}"]
        used = sorted({notes[r.caveat] for r in table.rows if r.caveat})
        out += [f"\\par\\footnotesize\\textsuperscript{{{n}}} {_tex(text)}" for text, n in notes.items() if n in used]
        out.append("\\end{table}")
    return "\n".join(out) + "\n"


def _tex(text: str) -> str:
    for plain, escaped in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("#", "\\#"), ("_", "\\_"),
                           ("±", "$\\pm$"), ("↓", "$\\downarrow$"), ("↑", "$\\uparrow$"), ("–", "--"),
                           ("↳ ", "")):
        text = text.replace(plain, escaped)
    return text


# ---------------------------------------------------------------- plots

def _colours(tables: list[Table]) -> dict[str, str]:
    ranks = {row.method: row.rank for t in tables for row in t.rows if row.kind == "ours"}
    methods = sorted(ranks, key=lambda m: (ranks[m], m))
    palette = [f"C{i}" for i in range(10)] + ["olive", "teal", "navy", "maroon", "gold"]
    return {m: palette[i % len(palette)] for i, m in enumerate(methods)}


def plot_tradeoff(table: Table, colours: dict[str, str], path: Path) -> Path:
    """Target (forget) vs retain accuracy after unlearning, one panel per backbone."""
    backbones = list(dict.fromkeys(row.backbone for row in table.rows))
    fig = figure(4.6 * len(backbones), 4.0)
    for ax, backbone in zip(fig.subplots(1, len(backbones), squeeze=False)[0], backbones):
        shown = set()
        for row in (r for r in table.rows if r.backbone == backbone):
            if "forget/acc" not in row.values or "retain/acc" not in row.values:
                continue
            (x, xerr), (y, yerr) = row.values["forget/acc"], row.values["retain/acc"]
            label = {"original": "original (before)", "ours": row.label, "published": "published"}[row.kind]
            style = {"original": dict(marker="*", color="black", markersize=12),
                     "ours": dict(marker="o", color=colours.get(row.method, "grey"), markersize=7),
                     "published": dict(marker="s", color=colours.get(row.method, "grey"), markersize=8,
                                       markerfacecolor="none")}[row.kind]
            ax.errorbar([x], [y], xerr=[xerr or 0], yerr=[yerr or 0], linestyle="none", capsize=2,
                        label=None if (row.kind, label) in shown else label, **style)
            shown.add((row.kind, label))
        ax.set(xlim=(-4, 104), ylim=(-4, 104))  # the whole range: panels and tables compare at a glance
        ax.set_xlabel("Target (forget) accuracy %  ↓")
        ax.set_ylabel("Retain accuracy %  ↑")
        ax.set_title(f"{table.forget}\n{table.dataset} · {backbone}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_png(fig, path, dpi=110)


def plot_curve(table: Table, row: Row, name: str, path: Path) -> Path:
    """Curve `name` of every run in the row: one thin line per series and run, each run's chosen x marked."""
    fig = figure(5.0, 3.6)
    ax = fig.subplots()
    curves = [run.curves[name] for run in row.runs if name in run.curves]
    series = list(dict.fromkeys(key for curve in curves for key in curve.series))
    for i, curve in enumerate(curves):
        xs = [p[curve.x] for p in curve.points]
        for j, key in enumerate(series):
            scale = 100 if key.endswith("/acc") else 1
            ys = [None if p.get(key) is None else scale * p[key] for p in curve.points]
            ax.plot(xs, ys, marker="o", markersize=3, color=f"C{j}", alpha=0.7,
                    label=(f"{key} (%)" if scale == 100 else key) if i == 0 else None)
        if curve.chosen is not None:
            ax.axvline(curve.chosen, color="black", linestyle=":", alpha=0.6, label=f"chosen {curve.x}" if i == 0 else None)
    ax.set_xlabel(curves[0].x_label)
    ax.set_ylabel("accuracy (%) / value")
    ax.set_title(f"{name} · {row.label} {row.variant} · {row.backbone} · {table.forget}".replace("  ", " "), fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_png(fig, path, dpi=110)


def plot_relearn(table: Table, colours: dict[str, str], path: Path) -> Path | None:
    """Forget accuracy vs relearning steps (audit), one line per method's unlearned model plus the
    original and reference models, one panel per backbone; None when no run was audited."""
    curves = defaultdict(lambda: defaultdict(list))  # (backbone, label) -> k -> values
    for row in (r for r in table.rows if r.kind == "ours"):
        for run in row.runs:
            for model, label in (("unlearned", row.method), ("original", "original"), ("reference", "reference")):
                for k, value in forget_curve(audited(run, model)).items():
                    curves[(row.backbone, label)][k].append(100 * value)
    if not curves:
        return None
    backbones = list(dict.fromkeys(b for b, _ in curves))
    fig = figure(4.6 * len(backbones), 3.6)
    for ax, backbone in zip(fig.subplots(1, len(backbones), squeeze=False)[0], backbones):
        for (b, label), points in curves.items():
            if b != backbone:
                continue
            ks = sorted(points)
            style = {"original": dict(color="black", linestyle="--"), "reference": dict(color="grey", linestyle=":")}
            ax.plot(ks, [float(np.mean(points[k])) for k in ks], marker="o", markersize=3, label=label,
                    **style.get(label, dict(color=colours.get(label, "grey"), linestyle="-")))
        ax.set_xscale("log")
        ax.set(ylim=(-4, 104), xlabel="fine-tuning steps on forget images", ylabel="Target (forget) accuracy %")
        ax.set_title(f"relearning · {table.forget}\n{table.dataset} · {backbone}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_png(fig, path, dpi=110)


def write_plots(tables: list[Table], out: Path) -> dict[str, list[Path]]:
    colours = _colours(tables)
    plots: dict[str, list[Path]] = {}
    for table in tables:
        paths = [plot_tradeoff(table, colours, out / f"tradeoff_{table.slug}.png")]
        if relearn := plot_relearn(table, colours, out / f"relearn_{table.slug}.png"):
            paths.append(relearn)
        for i, row in enumerate(table.rows):
            for name in dict.fromkeys(name for run in row.runs for name in run.curves):
                file = f"{_slug(name)}_{table.slug}_{_slug(row.backbone)}_{_slug(row.method)}_{i}.png"
                paths.append(plot_curve(table, row, name, out / file))
        plots[table.slug] = paths
        plots[f"{table.slug}/requests"] = plot_requests(table, colours, out)
    return plots


SLUG_LENGTH = 120  # file names end at 255 bytes; a long forget name (many deletion requests) keeps a digest


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")
    return slug if len(slug) <= SLUG_LENGTH else f"{slug[:SLUG_LENGTH - 9]}-{digest(text)[:8]}"


# ---------------------------------------------------------------- entrypoint

def report(dirs: list[Path], out: Path, reference_dir: Path | None,
           validity_file: Path | None = None) -> tuple[list[Table], list[tuple[Path, str]]]:
    """Collect, aggregate and write every output; returns the tables and the skipped runs. With a
    `validity_file` (unlearn/validity.py), audit cells whose measure had no signal say so."""
    runs, skipped = collect(dirs)
    if not runs:
        raise UnlearnError(f"no complete runs under {', '.join(map(str, dirs))} ({len(skipped)} incomplete); "
                           "a complete run folder holds metrics.json and a status.json saying complete")
    validity = read_validity(validity_file) if validity_file else None
    tables = build_tables(runs, load_references(reference_dir), skipped, validity)
    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(tables, out)
    atomic_write(out / "results.md", lambda tmp: tmp.write_text(markdown(tables, skipped, plots)))
    header, rows = csv_rows(tables)
    atomic_write(out / "results.csv", lambda tmp: _write_csv(tmp, header, rows))
    atomic_write(out / "results.tex", lambda tmp: tmp.write_text(latex(tables)))
    header, rows = request_csv_rows(tables)
    if rows:
        atomic_write(out / "requests.csv", lambda tmp: _write_csv(tmp, header, rows))
    return tables, skipped


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unlearn.report",
                                     description="Tables (Markdown, CSV, LaTeX) and plots from finished runs.")
    parser.add_argument("dirs", nargs="+", type=Path, help="sweep or run folders, searched recursively")
    parser.add_argument("--out", type=Path, help="where to write (default: <first dir>/report)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE_DIR,
                        help="folder of published-number CSVs (default: experiments/reference)")
    parser.add_argument("--no-reference", action="store_true", help="do not show published numbers")
    parser.add_argument("--validity", type=Path, default=DEFAULT_VALIDITY,
                        help="the audit's meta-evaluation (default: experiments/results/audit_validity/validity.csv): "
                             "audit cells of measures without signal on a spec say 'no signal'")
    parser.add_argument("--no-validity", action="store_true", help="print every audit value as a number")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="also print method A − method B per column: paired differences over shared units")
    args = parser.parse_args(argv)
    register_resolvers()
    out = args.out or args.dirs[0] / "report"
    try:
        if not args.no_reference and args.reference != DEFAULT_REFERENCE_DIR and not args.reference.is_dir():
            raise UnlearnError(f"no such reference folder: {args.reference}")
        validity = None if args.no_validity or (args.validity == DEFAULT_VALIDITY and not DEFAULT_VALIDITY.is_file()) \
            else args.validity
        tables, skipped = report(args.dirs, out, None if args.no_reference else args.reference, validity)
        if args.compare:
            print("\n".join(compare_lines(tables, *args.compare)).lstrip("\n"))
    except UnlearnError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path, why in skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    runs = sum(len(row.seeds) for t in tables for row in t.rows if row.kind == "ours")
    print(f"{runs} runs in {len(tables)} table(s), {len(skipped)} skipped; wrote {out}/results.md, results.csv, "
          "results.tex and plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
