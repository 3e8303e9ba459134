"""GPU checks (`make test-gpu`, skipped without CUDA; never part of `make test`): every method in
debug mode and the default three-stage run give on CUDA the forget and retain accuracy they give on
the CPU, in fp32 and under autocast (`eval.precision=auto`: bf16), within the tolerances below; and
`python -m unlearn.throughput` runs for RN50 and ViT-B/32. About 3-4 minutes on one GPU.

Tolerances: fp32 kernels differ between devices in rounding only, so fp32 runs may differ by a few
images (2 points); bf16 keeps ~3 significant digits, so autocast gets 5 points (the methods train
without autocast: it is the evaluation's precision). Lipschitz, whose decisions amplify rounding,
decides in float64 on either device and is held like the others.
"""

import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT, read_metrics, run_cli
from unlearn.methods import METHODS

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

TOLERANCE = {"fp32": 0.02, "auto": 0.05}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """outcome(device, precision, method, debug) -> after metrics, each run once."""
    done = {}

    def get(device: str, precision: str, method: str, debug: bool) -> dict:
        key = (device, precision, method, debug)
        if key not in done:
            run_dir = tmp_path_factory.mktemp("gpu")
            # a method that forgets whole classes only takes a class (the default spec is a colour subgroup)
            whole = ["forget=synthetic_class_circle"] if METHODS.get(method).extras.get("forgets") == "whole_classes" else []
            proc = run_cli(f"hydra.run.dir={run_dir}", "logger=none", f"method={method}", f"device={device}",
                           f"eval.precision={precision}", *whole, *(["debug=default"] if debug else []), cwd=ROOT)
            assert proc.returncode == 0, proc.stderr[-2000:]
            done[key] = read_metrics(run_dir)["after"]
        return done[key]

    return get


def _assert_close(cpu: dict, gpu: dict, tolerance: float) -> None:
    for key in ("forget/acc", "retain/acc"):
        assert abs(cpu[key] - gpu[key]) <= tolerance, (key, cpu[key], gpu[key])


@pytest.mark.parametrize("precision", sorted(TOLERANCE))
@pytest.mark.parametrize("method", sorted(METHODS.load()))
def test_every_method_in_debug_mode_matches_the_cpu(outcome, method, precision):
    _assert_close(outcome("cpu", "fp32", method, True), outcome("cuda", precision, method, True),
                  TOLERANCE[precision])


@pytest.mark.parametrize("precision", sorted(TOLERANCE))
def test_the_default_run_matches_the_cpu(outcome, precision):
    _assert_close(outcome("cpu", "fp32", "three_stage", False), outcome("cuda", precision, "three_stage", False),
                  TOLERANCE[precision])


@pytest.mark.parametrize("arch", ["RN50", "ViT-B-32"])
def test_throughput_of_the_real_architectures(arch):
    proc = subprocess.run([sys.executable, "-m", "unlearn.throughput", "--arch", arch, "--precision", "fp32", "bf16",
                           "--images", "1024", "--device", "cuda"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    print(proc.stdout)  # the numbers for docs/performance.md (pytest -s)
