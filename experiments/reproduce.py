"""Reproduce the papers' tables end to end: run experiment presets as sweeps, then report.

    python experiments/reproduce.py --synthetic                 # every *_synthetic preset, on the CPU
    python experiments/reproduce.py three_stage_marmoset dataset.root=/data/imagenet ...   # real data
    python experiments/reproduce.py --real -- hydra/launcher=slurm hydra.launcher.partition=gpu

Every preset is composed with the overrides first (one line per bad preset or value, before any
job starts). Each preset sweeps into `<out>/<preset>` (a fixed folder, so running the command again resumes:
jobs whose metrics.json is complete are skipped), each as its own `python -m unlearn` process, so
one failing sweep leaves the others running. `--jobs N` runs N sweeps at once (default: as many as
this machine runs jobs at once, `job_slots.slots_for`: one per GPU, else one per `num_threads` CPU
cores), each then logging to `<out>/<preset>.log`; every job is its own seeded process, so the
numbers do not depend on N. Then `python -m unlearn.report` writes the Markdown,
CSV and LaTeX tables and the plots of every sweep into `--report` (default `<out>/report`), with
the published numbers beside ours. The exit code is non-zero when any sweep failed; the report is
still written from the runs that completed, and lists the ones that did not.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from unlearn.config import setup

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "conf" / "experiment"


def presets(kind: str) -> list[str]:
    """The papers' table presets: real ones and their `*_synthetic` CPU twins (Optuna and single-run
    presets are not tables, nor is a `*_synthetic` preset without a real twin, e.g. sequential_synthetic)."""
    twins = sorted(p.stem for p in PRESETS.glob("*_synthetic.yaml")
                   if (PRESETS / f"{p.stem.removesuffix('_synthetic')}.yaml").is_file())
    return twins if kind == "synthetic" else [t.removesuffix("_synthetic") for t in twins]


def single_valued(overrides: list[str]) -> list[str]:
    """The overrides that set one value (not sweeps such as `seed=0,1`)."""
    return [o.input_line for o in OverridesParser.create().parse_overrides(overrides) if not o.is_sweep_override()]


def sweep_size(params) -> int:
    """Jobs in a sweep of `hydra.sweeper.params` (key -> value as in a preset), each value read by
    Hydra's own override parser: `0,1,2`, `range(0,3)` and `choice(a,b,c)` are 3, 3 and 3 values; one
    value, or a continuous search space such as `interval(...)`, counts 1."""
    overrides = OverridesParser.create().parse_overrides([f"{key}={value}" for key, value in params.items()])
    return math.prod(len(list(o.sweep_iterator())) if o.is_discrete_sweep() else 1 for o in overrides)


def compose_presets(chosen: list[str], overrides: list[str]) -> tuple[list[str], dict[str, int]]:
    """(one line per preset that does not compose with the overrides (the whole sweep would fail),
    the number of jobs of each preset that does); sweep overrides (`seed=0,1`) are checked by the
    sweep itself and not counted."""
    setup()
    errors, sizes = [], {}
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        for preset in chosen:
            try:
                cfg = compose("config", overrides=[f"experiment={preset}", *single_valued(overrides)],
                              return_hydra_config=True)
            except Exception as err:  # Hydra raises several types; each means "this preset cannot run"
                cause = f" ({str(err.__cause__).splitlines()[0]})" if err.__cause__ else ""
                errors.append(f"{preset}: {str(err).splitlines()[0]}{cause}")
                continue
            sizes[preset] = sweep_size(cfg.hydra.sweeper.params)
    return errors, sizes


def default_jobs(overrides: list[str]) -> int:
    """How many sweeps run at once: as many as this machine runs jobs at once (job_slots.slots_for)."""
    from unlearn.job_slots import slots_for  # imports torch: only when --jobs is not given

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return slots_for(compose("config", overrides=single_valued(overrides)))


def run_sweep(preset: str, sweep_dir: Path, overrides: list[str], log: Path | None = None) -> int:
    """One preset's sweep in its own process; its output to `log` when given (sweeps running at
    once), else to ours."""
    command = [sys.executable, "-m", "unlearn", f"experiment={preset}", f"hydra.sweep.dir={sweep_dir}", *overrides]
    print(f"==> {preset}: {' '.join(command[1:])}{f' (log: {log})' if log else ''}", flush=True)
    start = time.perf_counter()
    if log is None:
        code = subprocess.call(command, cwd=ROOT)
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as handle:
            code = subprocess.call(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    print(f"<== {preset}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.perf_counter() - start:.0f} s",
          flush=True)
    return code


def run_sweeps(chosen: list[str], out: Path, overrides: list[str], jobs: int) -> list[str]:
    """Every preset's sweep in the given order, `jobs` at a time; returns the presets whose sweep
    failed."""
    if jobs == 1:
        return [p for p in chosen if run_sweep(p, out / p, overrides) != 0]
    with ThreadPoolExecutor(jobs) as pool:
        codes = dict(zip(chosen, pool.map(lambda p: run_sweep(p, out / p, overrides, out / f"{p}.log"), chosen)))
    return [p for p in codes if codes[p] != 0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="presets to run, then overrides for every job (key=value)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--synthetic", action="store_true", help="every *_synthetic preset (CPU, embedded benchmark)")
    group.add_argument("--real", action="store_true", help="every real-data preset (GPU box, real data and weights)")
    parser.add_argument("--out", type=Path, help="sweep folders go under it (default: outputs/tables/<kind>)")
    parser.add_argument("--report", type=Path, help="where the tables and plots go (default: <out>/report)")
    parser.add_argument("--jobs", type=int, help="sweeps at once (default: one per GPU, else one per "
                        "num_threads CPU cores)")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs {args.jobs} is invalid; valid: an integer >= 1")

    chosen = [n for n in args.names if "=" not in n]
    overrides = [n for n in args.names if "=" in n]
    known = {p.stem for p in PRESETS.glob("*.yaml")}
    unknown = [n for n in chosen if n not in known]
    if unknown:
        parser.error(f"unknown preset {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    if args.synthetic or args.real:
        chosen = presets("synthetic" if args.synthetic else "real") + chosen
    if not chosen:
        parser.error("name presets, or pass --synthetic or --real")
    errors, sizes = compose_presets(chosen, overrides)
    if errors:
        parser.error("; ".join(errors))
    out = (args.out or ROOT / "outputs" / "tables" / ("synthetic" if args.synthetic else "real")).resolve()

    largest_first = sorted(chosen, key=lambda p: -sizes[p])  # sweeps run at once then end close together
    failed = run_sweeps(largest_first, out, overrides, args.jobs or default_jobs(overrides))
    swept = [str(out / p) for p in chosen if (out / p).is_dir()]
    report_dir = (args.report or out / "report").resolve()
    report_code = subprocess.call([sys.executable, "-m", "unlearn.report", *swept, "--out", str(report_dir)],
                                  cwd=ROOT) if swept else 1
    if failed:
        print(f"failed sweeps: {', '.join(failed)} (their complete jobs are in the report; re-run to resume)",
              file=sys.stderr)
    return 1 if failed or report_code else 0


if __name__ == "__main__":
    sys.exit(main())
