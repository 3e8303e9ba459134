"""How much a job's results move under float-level noise: a machine-independent test of whether a
method's discrete decisions (thresholds, rollbacks, rankings) amplify rounding differences.

    python experiments/float_noise.py method=lipschitz forget=synthetic_class_arrow --draws 4
    python experiments/float_noise.py method=three_stage --draws 4 --scale 1e-6

Runs the job once as configured and `--draws` more times with every weight of the original model
multiplied by (1 + ε), ε ~ N(0, scale²) drawn per entry (scale 1e-6 is well below what a forget
method changes, and about the size of the rounding differences between two machines' kernels).
Prints, per metric, the unperturbed value and the largest deviation of a perturbed run from it,
in points. A float32 method whose results move by more than a fraction of a point here will not
reproduce across machines at one seed. A method that decides in float64 (Lipschitz) meets rounding
~10⁹ times smaller than this noise: here it shows how sensitive the method is to the model itself,
and `experiments/check_report.py --kernels avx2` is the test of its reproducibility. Runs
in-process (unlearn.run's Job), no run folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from unlearn.config import setup
from unlearn.methods import METHODS
from unlearn.run import build_job, check_config, unlearn_and_measure

ROOT = Path(__file__).resolve().parents[1]


def perturb(model: torch.nn.Module, scale: float, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                noise = torch.randn(tensor.shape, generator=generator).to(tensor.device, tensor.dtype)
                tensor.mul_(1 + scale * noise)


def run_once(overrides: list[str], scale: float, seed: int | None) -> dict[str, float]:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, "logger=none"])
    check_config(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        job = build_job(cfg, Path(tmp))
        if seed is not None:
            perturb(job.model, scale, seed)
        result = unlearn_and_measure(job, METHODS.get(cfg.method.name).run)
    return {**{f"after/{k}": 100 * v for k, v in result.after.items()},
            "score": result.aggregates["score"], "paper_score": result.aggregates["paper_score"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="the job's overrides (key=value), as for python -m unlearn")
    parser.add_argument("--draws", type=int, default=4, help="perturbed runs")
    parser.add_argument("--scale", type=float, default=1e-6, help="relative size of the weight noise")
    args = parser.parse_args(argv)
    setup()
    reference = run_once(args.overrides, args.scale, None)
    runs = [run_once(args.overrides, args.scale, seed) for seed in range(args.draws)]
    print(f"{' '.join(args.overrides) or 'the default job'}: {args.draws} draws at relative scale {args.scale:g}")
    worst = 0.0
    for key, value in reference.items():
        deviation = max(abs(run[key] - value) for run in runs)
        worst = max(worst, deviation)
        print(f"  {key:34s} {value:7.2f}   largest deviation {deviation:6.2f}   "
              f"({', '.join(f'{run[key]:.1f}' for run in runs)})")
    print(f"largest deviation of any metric: {worst:.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
