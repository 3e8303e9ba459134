"""The data-free methods fit at ImageNet scale (issue 15): on a fake ImageNet (1000 classes, one
32 px image per class and split) with the miniature ResNet CLIP, through the CLI, the peak memory a
method adds above the original model's evaluation stays within a bound that does not grow with the
number of noise images or classes trained on.

- EMMN optimises 16 × 999 error-minimising noise images. In chunks of `noise_chunk` (256) it adds
  the finished noise, kept on the CPU (16 000 × 3 × 32 × 32 × 4 bytes = 197 MB here: it grows with
  classes × pixels, 9.6 GB for ImageNet at 224 px), plus one chunk's activations and Adam state,
  whatever the number of classes. In one batch it adds 3.6 GB here (~1.6 TB for RN50 at 224 px).
- Lipschitz trains the text tower on the forget classes' prompts only (ClassHead rows), and its
  accuracy head is encoded a chunk at a time without gradients, so it adds nothing measurable to the
  evaluation's peak; the gradient path through all 1000 × 2 training prompts is bounded by
  PROMPTS_PER_BACKWARD instead (tests/test_zeroshot.py).
Slow: about 3 min on 2 CPU cores (the 1000-class evaluation heads dominate).
"""

from __future__ import annotations

import pytest

from experiments.memory_bounds import NOISE_BYTES_MB, ONE_CHUNK_MB
from tests.conftest import ROOT, read_metrics, run_cli
from unlearn.data import catalog
from unlearn.data import fakes as fake



@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    return fake.write_imagenet(tmp_path_factory.mktemp("data") / "imagenet", catalog.imagenet_wnids(), per_class=1)


def added_mb(imagenet, tmp_path, *overrides: str) -> float:
    """Peak resident memory of the job by the end of `unlearn` minus by the end of the original
    model's evaluation (cost/<phase>/peak_rss_mb: the process's high-water mark), in MB."""
    proc = run_cli("debug=default", "logger=none", "backbone=mini_rn", "dataset=imagenet1k", f"dataset.root={imagenet}",
                   "dataset.num_workers=0", "forget=imagenet1k_subgroup_marmoset", *overrides,
                   f"hydra.run.dir={tmp_path}", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cost = read_metrics(tmp_path)["cost"]
    return cost["unlearn"]["peak_rss_mb"] - cost["before_eval"]["peak_rss_mb"]


@pytest.mark.slow
def test_emmn_noise_in_chunks_fits_where_one_batch_does_not(imagenet, tmp_path):
    chunked = added_mb(imagenet, tmp_path / "chunked", "method=emmn")
    one_batch = added_mb(imagenet, tmp_path / "one_batch", "method=emmn", "method.noise_chunk=16000")
    assert chunked <= NOISE_BYTES_MB + ONE_CHUNK_MB, chunked
    assert one_batch > 3 * chunked, (one_batch, chunked)


@pytest.mark.slow
def test_lipschitz_adds_nothing_to_the_evaluation_peak_on_1000_classes(imagenet, tmp_path):
    # in float32, as full-size backbones run it (conf/tuned/lipschitz_full_size.yaml): in float64 the 224 px synthetic
    # images, their Adam moments and the model take twice the memory (+164 MB here)
    assert added_mb(imagenet, tmp_path, "method=lipschitz", "method.float64=false") <= 50
