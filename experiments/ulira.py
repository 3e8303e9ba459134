"""U-LiRA on the embedded benchmark (`make ulira`): can an attacker tell, image by image, each
method's unlearned models from tiny CLIPs retrained without the forget class?

    python experiments/ulira.py                                   # the committed configuration (below)
    python experiments/ulira.py --specs synthetic_class_arrow --methods original grad_ascent \
        --pretrain-seeds 0 1 --seeds 0 --out /tmp/u --runs /tmp/u/runs \
        --extra backbone.pretrain.steps=2 debug=default         # a small one (the test runs this)

Per forget spec, two sweeps through `python -m unlearn` with `save_checkpoint=true` (fixed folders:
a second run resumes, and retrained models are cached in ~/.cache/unlearn; `--parallel` specs at
once, one process each):

| sweep | models | role |
|---|---|---|
| `<runs>/<spec>/methods` | every method (but retrain) × pretraining seeds × seeds | attacked, one row per method |
| `<runs>/<spec>/retrained` | `method=retrain` × pretraining seeds, at `SHADOW_OFFSET` and `HELD_OUT_OFFSET` | the shadows: retrain seeds s + 1000 (the meta-evaluation's deep controls); and a known answer: retrain seeds s + 2000, attacked like a method, must come out near 50 % |

Then, per forget test image, LiRA's statistic under every model (unlearn/ulira.py,
`true_class_confidence`), and per method the attack's balanced accuracy, leaving one pretraining seed
out (its runs share their original), with a 95 % t interval over the images and a 95 % bootstrap
interval over the models (unlearn/ulira.py, `models_interval`). The original and the
shallow control (`mask_name`) are known answers too: far from retraining, near 100 %.

Writes `<out>/ulira.csv` and `ulira.md`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from unlearn.config import register_resolvers
from unlearn.data import build_benchmark
from unlearn.data.tasks import build_task
from unlearn.evaluation import Evaluator
from unlearn.methods import METHODS
from unlearn.models.backbones import build_backbone
from unlearn.models.factory import eval_transform
from unlearn.report import Run
from unlearn.runtime import configure_threads
from unlearn.stats import estimate
from unlearn.ulira import attack_accuracy, models_interval, true_class_confidence

from sweep_cli import ROOT, add_sweep_options, finished_runs, side_by_side, sweep

OUT = ROOT / "experiments" / "results" / "ulira"
RUNS = ROOT / "outputs" / "ulira"
SPECS = ("synthetic_class_circle", "synthetic_class_arrow")
PRETRAIN_SEEDS = (0, 1, 2)
SEEDS = (0, 1)
SHADOW_OFFSET = 1000  # method=retrain's default: the shadows are the meta-evaluation's deep controls
HELD_OUT_OFFSET = 2000  # retrained models the shadows never include: the known 50 % answer
HELD_OUT = f"retrain (seeds s+{HELD_OUT_OFFSET})"


def attacked_methods() -> list[str]:
    """Every registered method but retrain (it makes the shadows), in the report's order."""
    entries = METHODS.load()
    return sorted((name for name in entries if name != "retrain"), key=lambda n: (entries[n].extras.get("rank", 85), n))


def run_sweeps(spec: str, methods: list[str], pretrain_seeds: list[int], seeds: list[int], runs: Path,
               extra: list[str]) -> None:
    pretrain = f"backbone.pretrain.seed={','.join(map(str, pretrain_seeds))}"
    common = ["save_checkpoint=true", "logger=none", *extra]
    sweep([f"method={','.join(methods)}", f"forget={spec}", pretrain, f"seed={','.join(map(str, seeds))}", *common],
          runs / spec / "methods")
    sweep(["method=retrain", f"method.pretrain_seed_offset={SHADOW_OFFSET},{HELD_OUT_OFFSET}", f"forget={spec}",
           pretrain, *common], runs / spec / "retrained")


def role(run: Run) -> str:
    """The row a run belongs to: its method, "shadow" for a shadow, HELD_OUT for the known answer."""
    if run.result.method != "retrain":
        return run.result.method
    return "shadow" if run.config.method.pretrain_seed_offset == SHADOW_OFFSET else HELD_OUT


def model_key(run: Run) -> tuple:
    """What one run is: spec, backbone, role (a method, a shadow, the known answer), pretraining seed, seed."""
    return (run.result.forget, run.result.backbone, role(run), run.pretrain_seed, run.result.seed)


class Statistics:
    """LiRA's statistic of the forget test images under each run's saved model. The benchmark and
    the task are built once per dataset, spec and task sizes, with seed 0 for any capped draw: every
    run of a spec is measured on the same images (test images, which no model trained on)."""

    def __init__(self):
        self._evaluators: dict[str, tuple[Evaluator, object]] = {}

    def __call__(self, run: Run) -> np.ndarray:
        path = run.path / "model.pt"
        if not path.is_file():
            raise SystemExit(f"{run.path} has no model.pt: run its sweep with save_checkpoint=true")
        cfg = run.config.copy()
        OmegaConf.update(cfg, "backbone.pretrained", str(path))
        model, tokenizer = build_backbone(cfg.backbone)
        evaluator, images = self._evaluator(cfg, model, tokenizer)
        return true_class_confidence(model, evaluator, images)

    def _evaluator(self, cfg, model, tokenizer):
        key = "".join(OmegaConf.to_yaml(cfg[k]) for k in ("dataset", "forget", "task"))
        if key not in self._evaluators:
            bench = build_benchmark(cfg.dataset, transform=eval_transform(model))
            task = build_task(bench, cfg.forget, cfg.task, seed=0)
            evaluator = Evaluator(bench, task, tokenizer, model.logit_scale.device, cfg.eval.batch_size)
            self._evaluators[key] = (evaluator, task.test.subset(np.flatnonzero(task.test_masks["forget"])))
        return self._evaluators[key]


def evaluate(runs: list[Run], statistic) -> list[dict]:
    """One row per (spec, backbone, method): the attack against that spec's shadows."""
    rows = []
    for spec, backbone in sorted({(r.result.forget, r.result.backbone) for r in runs}):
        mine = [r for r in runs if (r.result.forget, r.result.backbone) == (spec, backbone)]
        shadows = [r for r in mine if role(r) == "shadow"]
        if len(shadows) < 2:
            raise SystemExit(f"{spec} · {backbone}: {len(shadows)} retrained shadow(s); U-LiRA needs at least 2")
        retrained = np.stack([statistic(r) for r in shadows])
        roles = [m for m in attacked_methods() if any(role(r) == m for r in mine)] + [HELD_OUT]
        for name in roles:
            attacked = [r for r in mine if role(r) == name]
            if len({r.pretrain_seed for r in attacked}) < 2:
                continue
            statistics, groups = np.stack([statistic(r) for r in attacked]), [r.pretrain_seed for r in attacked]
            found = attack_accuracy(statistics, retrained, groups=groups)
            across_models = models_interval(statistics, retrained, groups=groups)
            forget = estimate([r.result.after["forget/acc"] for r in attacked])
            rows.append({"spec": spec, "backbone": backbone, "method": name, "models": len(attacked),
                         "shadows": len(shadows), "images": found.n, "forget acc": forget.mean,
                         "attack acc": found.mean, "low": found.low, "high": found.high,
                         "models low": across_models[0], "models high": across_models[1]})
    return rows


def write(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "ulira.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# U-LiRA: each method's unlearned models against retrained shadows", "",
             "Per forget test image, a likelihood-ratio attack tells a method's unlearned models from tiny CLIPs "
             "retrained without the forget class (experiments/ulira.py; unlearn/ulira.py). Attack accuracy: "
             "balanced, leaving one pretraining seed out, mean over the images with its 95 % t interval over the images "
             "(the models held fixed) and a 95 % bootstrap interval over the models (how far other models could move it). "
             "50 % = indistinguishable from retraining; 100 % = always told apart.", ""]
    for spec, backbone in dict.fromkeys((r["spec"], r["backbone"]) for r in rows):
        lines += [f"## {spec} · {backbone}", "",
                  "| method | models | forget acc (%) | attack acc (%) | 95 % interval, images | 95 % interval, models |",
                  "|---|---|---|---|---|---|"]
        for r in (r for r in rows if (r["spec"], r["backbone"]) == (spec, backbone)):
            lines.append(f"| {r['method']} | {r['models']} | {100 * r['forget acc']:.1f} | {100 * r['attack acc']:.1f} "
                         f"| {100 * r['low']:.1f}–{100 * r['high']:.1f} "
                         f"| {100 * r['models low']:.1f}–{100 * r['models high']:.1f} |")
        shown = next(r for r in rows if (r["spec"], r["backbone"]) == (spec, backbone))
        lines += ["", f"{shown['shadows']} retrained shadows; {shown['images']} forget test images.", ""]
    (out / "ulira.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", nargs="+", default=list(SPECS), help="forget presets (whole classes)")
    parser.add_argument("--methods", nargs="+", default=None, help="methods to attack (default: every one but retrain)")
    parser.add_argument("--pretrain-seeds", nargs="+", type=int, default=list(PRETRAIN_SEEDS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    add_sweep_options(parser, OUT, RUNS)
    args = parser.parse_args(argv)
    register_resolvers()
    configure_threads(1)
    if not args.no_sweep:
        methods = args.methods or attacked_methods()
        side_by_side(lambda spec: run_sweeps(spec, methods, args.pretrain_seeds, args.seeds, args.runs, args.extra),
                     args.specs, args.parallel)
    runs = finished_runs([args.runs / spec for spec in args.specs], model_key)
    write(evaluate(runs, Statistics()), args.out)
    print(f"wrote {args.out / 'ulira.md'} and ulira.csv from {len(runs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
