"""Time ``evaluate(pred, gt, trimap, protocol="gfm")`` (the full GFM set with a trimap) on a 1080x1620 image.

The ground truth is a real alphamatting.com alpha (GT01) resized to 1080x1620; the prediction is that alpha
blurred (Gaussian, sigma 3); the trimap marks as unknown every pixel within 10 px of a fractional alpha. Prints
the median (and fastest) wall time over the repeats, with the CPU time, for uint8 inputs and for the float32
mattes ``load_alpha`` returns.

Run: .venv/bin/python bench/metrics_speed.py [--repeats 30] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from mattekit.evaluation.metrics import evaluate
from mattekit.io import load_alpha


def make_inputs(data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """gt, pred (uint8 1080x1620) and a trimap (0/128/255) built from one real alpha matte."""
    alpha = np.rint(load_alpha(data / "alphamatting" / "alpha" / "GT01.png") * 255).astype(np.uint8)
    gt = cv2.resize(alpha, (1620, 1080), interpolation=cv2.INTER_CUBIC)
    pred = cv2.GaussianBlur(gt, (0, 0), 3)
    band = cv2.dilate(((gt > 0) & (gt < 255)).astype(np.uint8), np.ones((21, 21), np.uint8)).astype(bool)
    trimap = np.where(band, 128, np.where(gt == 255, 255, 0)).astype(np.uint8)
    return gt, pred, trimap


def timings(pred, gt, trimap, repeats: int) -> str:
    """Median and fastest wall time of ``repeats`` calls, and their median CPU time (all threads), in ms."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        evaluate(pred, gt, trimap, protocol="gfm")
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (
        f"median {statistics.median(wall) * 1000:.1f} ms, fastest {min(wall) * 1000:.1f} ms "
        f"(CPU time, median {statistics.median(cpu) * 1000:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    args = parser.parse_args()
    gt, pred, trimap = make_inputs(args.data)
    evaluate(pred, gt, trimap)  # warm-up: imports and first-call allocations
    print(f"image {gt.shape[1]}x{gt.shape[0]}, {int((trimap == 128).sum())} unknown pixels, {args.repeats} repeats")
    print(f"uint8 inputs:   {timings(pred, gt, trimap, args.repeats)}")
    as_float = (pred.astype(np.float32) / 255, gt.astype(np.float32) / 255)
    print(f"float32 inputs: {timings(*as_float, trimap, args.repeats)}")


if __name__ == "__main__":
    main()
