"""Evaluation throughput of a backbone: images/s through the evaluation path, per precision.

    python -m unlearn.throughput --arch ViT-B-32 --precision fp32 bf16 --images 4096 --num-workers 8

Random weights (throughput does not depend on them). Two numbers per precision:
- `model`: preprocessed tensors already on the device, through `encode_image` (the GPU's share);
- `pipeline`: JPEG files on disk (written to a temporary folder) decoded and transformed by
  the model's evaluation transform in `--num-workers` loader processes, pinned, batched and
  encoded — the code path the Evaluator runs (`zeroshot.image_features` under autocast).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from unlearn.config import setup
from unlearn.config.schema import Precision
from unlearn.data.base import ImageSet
from unlearn.data.images import FileImages
from unlearn.models.anatomy import input_shape
from unlearn.models.factory import create_random, eval_transform
from unlearn.runtime import autocast, select_device
from unlearn.zeroshot import image_features


def _write_jpegs(folder: Path, count: int, size: int = 256) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"{i}.jpg"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path, quality=90)
        paths.append(str(path))
    return paths


def _timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure(arch: str, precisions: list[str], images: int, batch_size: int, num_workers: int, device: torch.device) -> dict:
    model = create_random(arch, quick_gelu=True).to(device).eval()
    transform = eval_transform(model)
    _, height, width = input_shape(model)
    results = {"arch": arch, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "images": images, "batch_size": batch_size, "num_workers": num_workers}
    batch = torch.randn(batch_size, 3, height, width, device=device)
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_jpegs(Path(tmp), images)
        labels = np.zeros(images, dtype=np.int64)
        files = ImageSet(FileImages(paths, labels, transform), labels, num_workers=num_workers)
        for precision in precisions:
            def model_only(precision=precision):  # bound now (ruff B023), though only called here
                with torch.no_grad(), autocast(device, precision):
                    for _ in range(images // batch_size):
                        model.encode_image(batch, normalize=True)

            def pipeline(precision=precision):
                with autocast(device, precision):
                    image_features(model, files, device, batch_size)

            model_only()  # warm-up: kernels, autotuning, allocator
            model_s = _timed(model_only, device)
            pipeline()  # warm-up: worker start, page cache
            pipeline_s = _timed(pipeline, device)
            results[precision] = {"model_images_per_s": round(batch_size * (images // batch_size) / model_s, 1),
                                  "pipeline_images_per_s": round(images / pipeline_s, 1)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="ViT-B-32")
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=[p.value for p in Precision])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-workers", type=int, default=8)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    setup()
    device = select_device(args.device)
    print(json.dumps(measure(args.arch, args.precision, args.images, args.batch_size, args.num_workers, device), indent=1))


if __name__ == "__main__":
    main()
