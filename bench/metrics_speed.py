"""Time ``evaluate(pred, gt, trimap, protocol="gfm")`` (the full GFM set with a trimap) against the reference
procedure, on several contents of one 1080x1620 image.

The ground truth is a real alphamatting.com alpha (GT01) resized to 1080x1620; the trimap marks as unknown every
pixel within 10 px of a fractional alpha. Predictions: ``blur`` (the alpha Gaussian-blurred, sigma 3), ``binary``
(the alpha thresholded at 128), ``noise`` (the alpha plus Gaussian noise of 12 gray levels: thousands of small
components at every Conn threshold), ``scaled`` (0.35 x the alpha: every threshold above 0.3 is empty), ``band``
(the blurred alpha inside the trimap's unknown band, the alpha itself elsewhere, as trimap-based methods return),
``faint`` (uniform noise of 0-25 gray levels: every Conn threshold is empty, so the reference labels nothing,
and the gradients differ at every pixel: the reference's cheapest content and Grad's most expensive).

The reference is GFM's ``core/evaluate.py`` procedure (Li et al., "Bridging Composite and Real: Towards End-to-end
Deep Image Matting", IJCV 2022, arXiv:2010.16188), written here from its description: float64 mattes, SAD/MSE/MAD
and their TRAN and FG/BG variants with numpy, Grad with ``scipy.ndimage.gaussian_filter(σ=1.4, order=1)`` into
float32, Conn with one ``skimage.measure.label`` and ``regionprops`` of the whole image per threshold (plus the
distance transform of the complement of Ω that the reference computes each step without using it). Its values
are printed beside ours (largest relative difference over the ten numbers). Wall times are medians over the
repeats; CPU time counts every thread.

Run: .venv/bin/python bench/metrics_speed.py [--repeats 10] [--reference-repeats 3] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage
from skimage import measure

from mattekit.evaluation.metrics import evaluate
from mattekit.io import load_alpha


def make_inputs(data: Path) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """gt (uint8 1080x1620), the predictions by content name, and a trimap (0/128/255), from one real alpha."""
    alpha = np.rint(load_alpha(data / "alphamatting" / "alpha" / "GT01.png") * 255).astype(np.uint8)
    gt = cv2.resize(alpha, (1620, 1080), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).normal(0.0, 12.0, gt.shape)
    preds = {
        "blur": cv2.GaussianBlur(gt, (0, 0), 3),
        "binary": np.where(gt >= 128, 255, 0).astype(np.uint8),
        "noise": np.clip(np.rint(gt + noise), 0, 255).astype(np.uint8),
        "scaled": np.rint(0.35 * gt).astype(np.uint8),
        "faint": np.random.default_rng(1).integers(0, 26, gt.shape).astype(np.uint8),
    }
    band = cv2.dilate(((gt > 0) & (gt < 255)).astype(np.uint8), np.ones((21, 21), np.uint8)).astype(bool)
    trimap = np.where(band, 128, np.where(gt == 255, 255, 0)).astype(np.uint8)
    preds["band"] = np.where(band, preds["blur"], gt)
    return gt, preds, trimap


def _largest_component(mask: np.ndarray) -> np.ndarray | None:
    """The reference's Ω: labelled, measured with regionprops, the largest region's pixels set in a float32 map;
    it also takes the (unused) normalised distance map of the complement each step. None when ``mask`` is empty.
    """
    regions = measure.regionprops(measure.label(mask, connectivity=1))
    if not regions:
        return None
    pixels = regions[int(np.argmax([region.area for region in regions]))].coords
    omega = np.zeros(mask.shape, np.float32)
    omega[pixels[:, 0], pixels[:, 1]] = 1
    distance = ndimage.distance_transform_edt(omega == 0)
    distance /= distance.max()
    return omega


def reference_scores(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> dict[str, float]:
    """The GFM numbers computed as the reference procedure does (see the module docstring)."""
    p, g = pred / 255.0, gt / 255.0
    diff = np.abs(p - g)
    forced = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, p))
    forced_diff, unknown = np.abs(forced - g), np.count_nonzero(trimap == 128)
    scores = {"sad": diff.sum() / 1000, "mse": np.square(p - g).sum() / p.size, "mad": diff.sum() / p.size}
    scores |= {"sad_tran": forced_diff.sum() / 1000, "mse_tran": np.square(forced - g).sum() / unknown}
    scores |= {"mad_tran": forced_diff.sum() / unknown, "sad_fg": (diff * (trimap == 255)).sum() / 1000}
    scores["sad_bg"] = (diff * (trimap == 0)).sum() / 1000
    magnitudes = []
    for m in (p, g):
        rows = ndimage.gaussian_filter(m, 1.4, order=[1, 0], output=np.float32)
        cols = ndimage.gaussian_filter(m, 1.4, order=[0, 1], output=np.float32)
        magnitudes.append(np.sqrt(rows**2 + cols**2))
    scores["grad"] = np.sum((magnitudes[0] - magnitudes[1]) ** 2) / 10
    thresholds = np.arange(0, 1.1, 0.1)
    level = np.full(p.shape, -1.0, np.float32)
    for i in range(1, len(thresholds)):
        omega = _largest_component((p >= thresholds[i]) & (g >= thresholds[i]))
        if omega is not None:  # an empty step is skipped
            level[(level == -1) & (omega == 0)] = thresholds[i - 1]
    level[level == -1] = 1
    p_d, g_d = p - level, g - level
    scores["conn"] = np.abs(p_d * (p_d >= 0.15) - g_d * (g_d >= 0.15)).sum() / 1000
    return {key: float(value) for key, value in scores.items()}


def timed(function, repeats: int) -> tuple[float, float, dict[str, float]]:
    """Median wall and CPU time (s) of ``repeats`` calls, and the last call's result."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), result


def largest_relative_difference(ours: dict[str, float], reference: dict[str, float]) -> float:
    return max(abs(ours[key] - value) / abs(value) if value else abs(ours[key]) for key, value in reference.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--reference-repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    args = parser.parse_args()
    gt, preds, trimap = make_inputs(args.data)
    evaluate(preds["blur"], gt, trimap)  # warm-up: imports and first-call allocations
    print(f"image {gt.shape[1]}x{gt.shape[0]}, {int((trimap == 128).sum())} unknown pixels")
    print("content | ours wall / CPU (ms) | reference wall / CPU (ms) | speed-up wall / CPU | max rel. difference")
    for name, pred in preds.items():
        for inputs, label in ((pred, "uint8"), (pred.astype(np.float32) / 255, "float32")):
            wall, cpu, ours = timed(lambda: evaluate(inputs, gt, trimap, protocol="gfm"), args.repeats)
            if label == "uint8":
                ref_wall, ref_cpu, reference = timed(lambda: reference_scores(pred, gt, trimap), args.reference_repeats)
            print(
                f"{name} {label} | {wall * 1000:.0f} / {cpu * 1000:.0f} | {ref_wall * 1000:.0f} / {ref_cpu * 1000:.0f}"
                f" | {ref_wall / wall:.1f}x / {ref_cpu / cpu:.1f}x | {largest_relative_difference(ours, reference):.1e}"
            )


if __name__ == "__main__":
    main()
