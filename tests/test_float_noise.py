"""experiments/float_noise.py: a stable method does not move under float-level weight noise, and
the noise is really applied (a large one moves it)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def largest_deviation(scale: str) -> float:
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "float_noise.py"), "debug=default",
                           "method=grad_ascent", "--draws", "1", "--scale", scale], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return float(re.search(r"largest deviation of any metric: ([\d.]+) points", proc.stdout).group(1))


def test_float_noise_leaves_a_stable_method_unmoved_and_large_noise_moves_it():
    assert largest_deviation("1e-6") == 0.0
    assert largest_deviation("0.3") > 0.0
