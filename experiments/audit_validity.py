"""Meta-evaluation of the audit (`make audit-validity`): can each measure tell forgetting that only
hides from forgetting that goes deep, where the answer is known?

    python experiments/audit_validity.py                      # the committed configuration (below)
    python experiments/audit_validity.py --specs synthetic_class_arrow --seeds 0 1 --out /tmp/v \
        --extra backbone.pretrain.steps=2 debug=default       # a small one (the test runs this)

For each forget spec and tiny CLIP pretraining seed it runs, through `python -m unlearn` with
`audit=standard`, three models whose depth is known by construction: the original (nothing
forgotten), the shallow control `method=mask_name` (the names hidden, the image tower untouched) and
the deep control `method=retrain` (pretrained again without the images). A colour or style
subgroup has no shallow control (its name is its siblings' too): only the original and the deep
control run there, and no measure can be judged on it.

Per measure and spec, over the pretraining seeds (k models of each control):

| column | what |
|---|---|
| `auroc` | how well the measure, read in its "more knowledge" direction, ranks every shallow control above every deep one (scikit-learn's ROC AUC; 1 = always, 0.5 = chance). With k = 3 a perfect 1 arises by chance with probability 1/20 |
| `effect` | (mean shallow − mean deep) in that direction, over `noise`: the pooled standard deviation of the two controls over pretraining seeds (the noise floor) |
| `ordered` | original ≥ shallow > deep in that direction, on the means |
| `verdict` | `signal` when auroc = 1 and effect ≥ `MIN_EFFECT`; else `no signal` (the report prints "no signal" for it); `not judged` on a spec without a shallow control (the report shows its numbers, unmarked) |
| `deep spread` | the standard deviation of the deep control over pretraining seeds: how much a retrained reference itself moves with its seed (the noise any depth against one reference carries, to read beside `audit.min_gap`) |

The committed configuration covers every spec on tiny_rn and class circle on tiny_vit (`COVERAGE`:
a tiny_vit retrain costs about three tiny_rn ones); `--specs` / `--backbones` run every spec given on
every backbone given instead.

Writes `<out>/validity.csv`, `validity.md` and `validity_<spec>_<backbone>.png`; the sweeps go to
`<runs>/<backbone>/<spec>`, `--parallel` at once (fixed folders: a second run resumes, and retrained
models are cached; `--no-sweep` only reads them, e.g. after sweeps run side by side with `--specs` each).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np

from unlearn.config import register_resolvers
from unlearn.metrics.relearn_curve import curve_mean
from unlearn.plotting import figure, save_png
from unlearn.report import Run, audited

from sweep_cli import ROOT, add_sweep_options, finished_runs, side_by_side, sweep

OUT = ROOT / "experiments" / "results" / "audit_validity"
RUNS = ROOT / "outputs" / "audit_validity"
SPECS = ("synthetic_class_circle", "synthetic_class_arrow", "synthetic_class_star_heart_arrow",
         "synthetic_subgroup_circle", "synthetic_subgroup_red_circle")
# The committed coverage, backbone -> specs, costliest first (side by side, it overlaps the tiny_rn cells).
# A tiny_vit retrain costs about three tiny_rn ones: within the ~90-min budget it covers one class spec.
COVERAGE = {"tiny_vit": ("synthetic_class_circle",), "tiny_rn": SPECS}
SEEDS = (0, 1, 2)
CONTROLS = {"original": "original", "mask_name": "shallow", "retrain": "deep"}
# measure -> (+1: a higher value means more knowledge of the forget set is left, -1: less; description)
MEASURES = {
    "forget/acc": (+1, "zero-shot forget accuracy"),
    "relearn/1/forget/acc": (+1, "forget accuracy after 1 relearning step"),
    "relearn/3/forget/acc": (+1, "after 3 relearning steps"),
    "relearn/10/forget/acc": (+1, "after 10 relearning steps"),
    "relearn/mean/forget/acc": (+1, "mean forget accuracy over the relearning steps recorded (1, 3, 10, 30)"),
    "relearn/steps_to_half": (-1, "relearning steps to half the original's forget accuracy (never: NEVER_STEPS)"),
    "probe/forget/acc": (+1, "linear probe on the image features, forget images"),
    "mia/efficacy": (-1, "share of forget images the membership attack calls unseen (null: no power)"),
    "prompts/worst": (+1, "the highest forget accuracy over the other prompt sets"),
}
NEVER_STEPS = 60  # steps_to_half null (not back within the last k, 30): ranked after every k
MIN_EFFECT = 2.0  # the shallow-deep gap a signal must exceed, in noise floors
NOT_JUDGED = "not judged (no shallow control: a colour or style subgroup's name is its siblings' too)"


def has_shallow_control(spec: str) -> bool:
    """A spec of whole classes: their names can be hidden. A colour or style subgroup's cannot."""
    from omegaconf import OmegaConf

    return not OmegaConf.load(ROOT / "conf" / "forget" / f"{spec}.yaml").get("attributes")


def cells(specs: list[str] | None, backbones: list[str] | None) -> list[tuple[str, str]]:
    """The (backbone, spec) pairs to run: COVERAGE when neither is given, else every spec (default SPECS)
    on every backbone (default tiny_rn)."""
    if specs is None and backbones is None:
        return [(backbone, spec) for backbone, covered in COVERAGE.items() for spec in covered]
    return [(backbone, spec) for backbone in backbones or ["tiny_rn"] for spec in specs or SPECS]


def run_sweeps(backbone: str, spec: str, seeds: list[int], runs: Path, extra: list[str]) -> None:
    methods = ",".join(m for m in CONTROLS if m != "mask_name" or has_shallow_control(spec))
    sweep([f"method={methods}", f"backbone={backbone}", f"forget={spec}",
           f"backbone.pretrain.seed={','.join(map(str, seeds))}", "audit=standard", "logger=none", *extra],
          runs / backbone / spec)


def model_key(run: Run) -> tuple:
    """What one control run is: spec, backbone, control, pretraining seed and seed."""
    r = run.result
    return (r.forget, r.backbone, r.method, run.pretrain_seed, r.seed)


def measured(run: Run) -> dict[str, float]:
    """The unlearned model's value of every MEASURE (NEVER_STEPS for a relearning that never came back)."""
    values = audited(run, "unlearned") | {"forget/acc": run.result.after.get("forget/acc")}
    if "relearn/mean/forget/acc" not in values:  # a run from before the relearn metric wrote it: the same mean
        values["relearn/mean/forget/acc"] = curve_mean(values)
    if "relearn/steps_to_half" in values and values["relearn/steps_to_half"] is None:
        values["relearn/steps_to_half"] = NEVER_STEPS
    return {k: v for k, v in values.items() if k in MEASURES and v is not None and not math.isnan(v)}


def judge(original: list[float], shallow: list[float], deep: list[float], sign: int) -> dict:
    """One measure on one spec: auroc, effect, noise, ordered, verdict (the module docstring)."""
    from sklearn.metrics import roc_auc_score

    if len(shallow) < 2 or len(deep) < 2:
        return {"auroc": None, "effect": None, "noise": None, "ordered": None,
                "verdict": "no signal (the measure is undefined on the controls)"}
    s, d = sign * np.asarray(shallow), sign * np.asarray(deep)
    auroc = float(roc_auc_score([1] * len(s) + [0] * len(d), np.concatenate([s, d])))
    noise = float(math.sqrt((s.var(ddof=1) + d.var(ddof=1)) / 2))
    gap = float(s.mean() - d.mean())
    effect = gap / noise if noise > 0 else (math.inf if gap > 0 else 0.0)
    ordered = bool(original) and bool(sign * float(np.mean(original)) >= s.mean() > d.mean())
    signal = auroc == 1.0 and effect >= MIN_EFFECT
    return {"auroc": auroc, "effect": effect, "noise": noise, "ordered": ordered,
            "verdict": "signal" if signal else "no signal"}


def evaluate(runs: list[Run]) -> list[dict]:
    """One row per (spec, backbone, measure) over the runs' controls (the columns unlearn/validity.py reads)."""
    rows = []
    for spec, backbone in sorted({(r.result.forget, r.result.backbone) for r in runs}):
        by_kind: dict[str, list[dict[str, float]]] = {kind: [] for kind in CONTROLS.values()}
        for run in runs:
            if (run.result.forget, run.result.backbone) == (spec, backbone) and run.result.method in CONTROLS:
                by_kind[CONTROLS[run.result.method]].append(measured(run))
        for key, (sign, description) in MEASURES.items():
            values = {kind: [m[key] for m in found if key in m] for kind, found in by_kind.items()}
            judged = judge(values["original"], values["shallow"], values["deep"], sign) if has_shallow_control(spec) \
                else {"auroc": None, "effect": None, "noise": None, "ordered": None, "verdict": NOT_JUDGED}
            rows.append({"spec": spec, "backbone": backbone, "measure": key, "description": description,
                         **{f"{kind} mean": (float(np.mean(v)) if v else None) for kind, v in values.items()},
                         "deep spread": float(np.std(values["deep"], ddof=1)) if len(values["deep"]) > 1 else None,
                         **judged})
    return rows


def write(rows: list[dict], runs: list[Run], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    header = list(rows[0])
    with (out / "validity.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Audit validity", "", "Each measure against controls with a known answer (experiments/audit_validity.py): "
             "shallow = method=mask_name, deep = method=retrain; AUROC and effect over pretraining seeds.", ""]
    for spec, backbone in dict.fromkeys((r["spec"], r["backbone"]) for r in rows):
        lines += [f"## {spec} · {backbone}", "",
                  "| measure | original | shallow | deep | deep spread | AUROC | effect | ordered | verdict |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if (r["spec"], r["backbone"]) == (spec, backbone)):
            cells = [_fmt(r[k]) for k in ("original mean", "shallow mean", "deep mean", "deep spread", "auroc", "effect")]
            lines.append(f"| `{r['measure']}` | " + " | ".join(cells) + f" | {_fmt(r['ordered'])} | {r['verdict']} |")
        name = f"validity_{spec}_{backbone}"
        lines += ["", f"![{name}]({name}.png)", ""]
        plot(spec, backbone, runs, out / f"{name}.png")
    (out / "validity.md").write_text("\n".join(lines))


def plot(spec: str, backbone: str, runs: list[Run], path: Path) -> Path:
    keys = list(MEASURES)
    fig = figure(1.3 * len(keys) + 1, 3.6)
    ax = fig.subplots()
    for j, (method, kind) in enumerate(CONTROLS.items()):
        for run in (r for r in runs if (r.result.forget, r.result.backbone, r.result.method) == (spec, backbone, method)):
            values = measured(run)
            xs = [i + 0.2 * (j - 1) for i, k in enumerate(keys) if k in values]
            ys = [values[k] / (NEVER_STEPS if k == "relearn/steps_to_half" else 1) for k in keys if k in values]
            ax.plot(xs, ys, "o", color=f"C{j}", alpha=0.7, label=kind)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7)
    names = ["steps to half" if k == "relearn/steps_to_half" else k.replace("/forget/acc", "").replace("relearn/", "relearn@")
             for k in keys]
    ax.set_xticks(range(len(keys)), names,
                  rotation=30, fontsize=7, ha="right")
    ax.set_ylabel(f"value (steps to half / {NEVER_STEPS})")
    ax.set_title(f"{spec} · {backbone}: the controls per measure, one dot per pretraining seed", fontsize=9)
    ax.grid(alpha=0.3)
    return save_png(fig, path, dpi=110)


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.3f}" if isinstance(value, float) and math.isfinite(value) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", nargs="+", help="forget presets (default: COVERAGE's, or SPECS with --backbones)")
    parser.add_argument("--backbones", nargs="+", help="tiny backbones (default: COVERAGE's, or tiny_rn with --specs)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), help="tiny CLIP pretraining seeds")
    add_sweep_options(parser, OUT, RUNS)
    args = parser.parse_args(argv)
    register_resolvers()
    todo = cells(args.specs, args.backbones)
    if not args.no_sweep:
        side_by_side(lambda cell: run_sweeps(*cell, args.seeds, args.runs, args.extra), todo, args.parallel)
    runs = finished_runs([args.runs / backbone / spec for backbone, spec in todo], model_key)
    write(evaluate(runs), runs, args.out)
    print(f"wrote {args.out / 'validity.md'} and validity.csv from {len(runs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
