"""`make bench`: what a real-scale job costs, counted on a CPU, with the caches on and off.

    python experiments/bench.py [--out outputs/bench] [--markdown FILE]

A fake ImageNet in the real layout (1000 WordNet-id folders, so the marmoset spec finds its
monkey group; 3 × 224 px JPEGs per class and split) and fake unseen suites in the real formats
(CIFAR-10, STL-10, Food-101, ObjectNet) are written once under `<out>/data`. On them the marmoset
setting (`setting=imagenet1k_marmoset`) runs, through the CLI, with the miniature real
architectures (random weights, 32 px; their accuracy is chance, their work is not):

- three_stage (the logit-scale-100 settings), space_adaptation and EMMN with mini_rn, one job each;
- a 4-job sweep (`-m`, one process: grad_ascent, NegGrad+, random label, SalUn) with mini_vit;

once with every cache off (`schema.CACHES_OFF`: `cache.features=false cache.images=false
cache.train_sets=false cache.file_index=false eval.stage_cap=null`) and once with the defaults, starting from an empty cache (`<out>/cache`),
in that order: the three-stage job fills the caches cold, the later jobs find what it left.
Printed per job and phase: images decoded and encoded, seconds, peak resident memory, and the
ratios off / on; the memory EMMN and Lipschitz add above the original model's evaluation, against
the bounds of tests/methods/test_scale_memory.py (from the runs with the caches off, whose
before-evaluation computes everything); what the caches' integrity checks cost each cached job
(under 5 % of it, or the exit code says). The metrics of each job must be the same either way
(checked here too; the exit code says). About 7 min on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from memory_bounds import NOISE_BYTES_MB, ONE_CHUNK_MB  # experiments/, beside this script

from unlearn.config.schema import CACHES_OFF
from unlearn.data import catalog
from unlearn.data import fakes as fake
from unlearn.rundir import JOB_PHASES

ROOT = Path(__file__).resolve().parents[1]

COMMON = ("setting=imagenet1k_marmoset", "logger=none", "dataset.num_workers=0",
          *(f"eval.zeroshot.{suite}.num_workers=0" for suite in ("cifar10", "food101", "stl10", "objectnet")))
# Random weights never satisfy space adaptation's forget check, so it would retry 100 times; EMMN's
# noise steps (each a pass of all 16 000 noise images) are cut to 5: neither changes what is decoded,
# nor EMMN's memory (one chunk of noise at a time, whatever the steps)
JOBS = {  # name -> (overrides, multirun)
    "three_stage": (("backbone=mini_rn", "method=three_stage"), False),
    "space_adaptation": (("backbone=mini_rn", "method=space_adaptation", "method.max_retries=3"), False),
    "emmn": (("backbone=mini_rn", "method=emmn", "method.noise_steps=5"), False),
    "lipschitz": (("backbone=mini_rn", "method=lipschitz"), False),
    # one original model for the whole sweep (the miniatures' random weights follow the seed, real
    # pretrained weights do not): a grid over methods, as a table's row of baselines
    "sweep (4 jobs)": (("backbone=mini_vit", "method=grad_ascent,neggrad_plus,random_label,salun"), True),
}
PHASES = ("load_data", "cache_data", "before_eval", "fisher", "stage1", "stage1_eval", "stage2", "stage2_eval", "stage3",
          "soup_search", "stage3_eval", "unlearn", "after_eval")
COMPARED = ("before", "after", "stages", "score", "paper_score")


def write_data(folder: Path) -> Path:
    """The fake datasets, written once (a marker file says they are complete)."""
    done = folder / ".complete"
    if done.is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    fake.write_imagenet(folder / "imagenet", catalog.imagenet_wnids(), per_class=3, size=224)
    fake.write_cifar(folder / "cifar10", "cifar10", per_class=50)
    fake.write_stl10(folder / "stl10", per_class=30)
    fake.write_food101(folder / "food101", per_class=50, size=224)
    fake.write_class_folder(folder / "objectnet-1.0" / "images", [f"object_{i}" for i in range(20)], per_class=10,
                            size=224)
    done.write_text("")
    print(f"fake data written to {folder} in {time.perf_counter() - start:.0f} s")
    return folder


def run(name: str, overrides: tuple[str, ...], multirun: bool, out: Path, data: Path, caching: bool) -> list[dict]:
    """One bench job through the CLI; the metrics.json of each of its jobs."""
    folder = out / "runs" / ("cached" if caching else "uncached") / name.split()[0]
    shutil.rmtree(folder, ignore_errors=True)
    where = (f"hydra.sweep.dir={folder}",) if multirun else (f"hydra.run.dir={folder}",)
    args = [sys.executable, "-m", "unlearn", *(("-m",) if multirun else ()), *COMMON, *overrides, *where,
            f"cache.dir={out / 'cache'}", *(() if caching else CACHES_OFF)]
    env = dict(os.environ, UNLEARN_DATA_DIR=str(data), HF_HUB_OFFLINE="1", WANDB_MODE="offline")
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"bench job {name} failed:\n{proc.stderr[-3000:]}")
    runs = sorted((json.loads(p.read_text()) for p in folder.rglob("metrics.json")), key=lambda m: (m["method"], m["seed"]))
    print(f"  {name:<18} {'caches on ' if caching else 'caches off'}  {time.perf_counter() - start:6.1f} s", flush=True)
    return runs


def totals(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Per phase, the sum over a bench job's runs (peak memory: the largest)."""
    summed: dict[str, dict[str, float]] = {}
    for metrics in runs:
        for phase, spent in metrics["cost"].items():
            into = summed.setdefault(phase, {"seconds": 0.0, "images_decoded": 0, "images_encoded": 0,
                                             "integrity_seconds": 0.0, "peak_rss_mb": 0})
            for key in ("seconds", "images_decoded", "images_encoded", "integrity_seconds"):
                into[key] += spent[key]
            into["peak_rss_mb"] = max(into["peak_rss_mb"], spent["peak_rss_mb"])
    return summed


def job_total(summed: dict, key: str) -> float:
    """A whole job's total: the sum over its top-level phases."""
    return sum(summed.get(phase, {}).get(key, 0) for phase in JOB_PHASES)


def table(results: dict[str, dict[bool, list[dict]]]) -> str:
    lines = ["| job | phase | decoded off → on | encoded off → on | seconds off → on | peak RSS MB (on) |",
             "|---|---|---|---|---|---|"]
    for name, by_caching in results.items():
        off, on = totals(by_caching[False]), totals(by_caching[True])
        for phase in PHASES:
            if phase not in off and phase not in on:
                continue
            a, b = off.get(phase, {}), on.get(phase, {})
            lines.append(f"| {name} | {phase} | {a.get('images_decoded', 0):,} → {b.get('images_decoded', 0):,} | "
                         f"{a.get('images_encoded', 0):,} → {b.get('images_encoded', 0):,} | "
                         f"{a.get('seconds', 0):.1f} → {b.get('seconds', 0):.1f} | {b.get('peak_rss_mb', 0):,.0f} |")
        decoded = job_total(off, "images_decoded"), job_total(on, "images_decoded")
        encoded = job_total(off, "images_encoded"), job_total(on, "images_encoded")
        seconds = job_total(off, "seconds"), job_total(on, "seconds")
        lines.append(f"| **{name}** | **whole job** | **{decoded[0]:,} → {decoded[1]:,} ({_ratio(*decoded)})** | "
                     f"**{encoded[0]:,} → {encoded[1]:,} ({_ratio(*encoded)})** | "
                     f"**{seconds[0]:.1f} → {seconds[1]:.1f} ({_ratio(*seconds)})** | |")
    return "\n".join(lines)


def sweep_originals(runs: list[dict]) -> list[int]:
    """Images the original model encoded in each job of a sweep (before_eval)."""
    return [metrics["cost"]["before_eval"]["images_encoded"] for metrics in runs]


# method -> (bound on the memory it adds above the original's evaluation, MB; why)
MEMORY_BOUNDS = {"emmn": (NOISE_BYTES_MB + ONE_CHUNK_MB, "its stored noise + one chunk"),
                 "lipschitz": (50, "forget-class prompts only")}


def memory_lines(results: dict[str, dict[bool, list[dict]]]) -> list[str]:
    lines = []
    for name, (bound, why) in MEMORY_BOUNDS.items():
        cost = results[name][False][0]["cost"]
        added = cost["unlearn"]["peak_rss_mb"] - cost["before_eval"]["peak_rss_mb"]
        verdict = "within" if added <= bound else "OVER"
        lines.append(f"{name} adds {added:.0f} MB above the evaluation's peak: {verdict} its bound of {bound:.0f} MB ({why}).")
    return lines


INTEGRITY_BOUND = 0.05  # of a cached job's seconds (issue 27)


def integrity_lines(results: dict[str, dict[bool, list[dict]]]) -> list[str]:
    """What checking the caches (checksums of every entry read or written, each image file's size
    and time) cost each job with the caches on, against the whole job."""
    lines = []
    for name, by_caching in results.items():
        on = totals(by_caching[True])
        checked, total = job_total(on, "integrity_seconds"), job_total(on, "seconds")
        verdict = "within" if checked <= INTEGRITY_BOUND * total else "OVER"
        lines.append(f"{name}: integrity checks {checked:.3f} s of {total:.1f} s ({100 * checked / total:.2f} %), "
                     f"{verdict} the bound of {100 * INTEGRITY_BOUND:.0f} %.")
    return lines


def _ratio(off: float, on: float) -> str:
    return f"{off / on:.1f}×" if on else "all cut"


def same_metrics(off: list[dict], on: list[dict]) -> list[str]:
    """The compared values that differ between the uncached and the cached runs (none expected).
    Stage metrics differ by design when a stage cap bites; this bench's sets are under the cap."""
    return [f"{a['method']} seed {a['seed']} {key}" for a, b in zip(off, on, strict=True) for key in COMPARED
            if a.get(key) != b.get(key)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = write_data(args.out / "data")
    shutil.rmtree(args.out / "cache", ignore_errors=True)
    results: dict[str, dict[bool, list[dict]]] = {name: {} for name in JOBS}
    for caching in (False, True):
        for name, (overrides, multirun) in JOBS.items():
            results[name][caching] = run(name, overrides, multirun, args.out, data, caching)
    sweep = results["sweep (4 jobs)"]
    notes = [f"Original-model images encoded by each job of the 4-job sweep: caches off "
             f"{sweep_originals(sweep[False])}, on {sweep_originals(sweep[True])}.", *memory_lines(results),
             *integrity_lines(results)]
    differing = [f"{name}: {d}" for name, r in results.items() for d in same_metrics(r[False], r[True])]
    notes.append("Metrics with the caches on and off: " + ("identical." if not differing else "DIFFER: " + "; ".join(differing)))
    notes.append(f"Whole bench: {time.perf_counter() - start:.0f} s.")
    text = table(results) + "\n\n" + "\n".join(f"- {note}" for note in notes)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    over = any("OVER" in line for line in (*memory_lines(results), *integrity_lines(results)))
    return 1 if differing or over else 0


if __name__ == "__main__":
    sys.exit(main())
