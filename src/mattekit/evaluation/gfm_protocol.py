"""The official GFM / P3M / AIM evaluation (GFM ``core/evaluate.py``): whole image, float64, Grad in float32.

``score(pred, gt, regions)`` takes mattes validated by ``metrics.as_matte`` (uint8, or float64 in [0, 1]) and
trimap region codes (0 background, 1 unknown, 2 foreground) or None. Every per-pixel term of two 8-bit mattes
depends only on the pair of 8-bit values (and the region or Conn level), so for them the sums come from joint
histograms times tables of those terms; other mattes are summed pixel by pixel. Both give the reference's
values up to the order of floating-point summation.

Example:
    >>> import numpy as np
    >>> gt = np.array([[0, 255]], np.uint8)
    >>> score(np.array([[51, 255]], np.uint8), gt, None)["sad"]
    0.0002
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from mattekit import kernels
from mattekit.evaluation.connectivity import first_exit_levels, phi_part, reached_counts
from mattekit.evaluation.gradient import gfm_gradient_error

# np.arange(0, 1.1, 0.1), whose 7th entry is 0.6000000000000001; the level map l is float32.
THRESHOLDS = np.arange(0, 1.1, 0.1)
LEVELS = np.append(THRESHOLDS[:-1].astype(np.float32), 1.0).astype(np.float64)  # index 10: never left
EIGHT_BIT = np.arange(256) / 255.0  # what the reference gets from PNG / 255.
REACHED_LUT = reached_counts(EIGHT_BIT, THRESHOLDS[1:])
NO_CODES = np.zeros((0, 0), np.uint8)  # no trimap: every pixel under one code
KERNEL_MODULE = "mattekit.evaluation.histogram_kernel"


@cache
def _pair_tables() -> dict[str, np.ndarray]:
    """Per (pred, gt) 8-bit pair: |p − g|, (p − g)², and |Δφ| per Conn level (float64, 11 x 256 x 256)."""
    diff = EIGHT_BIT[:, None] - EIGHT_BIT[None, :]
    part = phi_part(EIGHT_BIT[None, :] - LEVELS[:, None])  # level x value
    conn = np.abs(part[:, :, None] - part[:, None, :])
    return {"abs": np.abs(diff).ravel(), "sq": (diff * diff).ravel(), "conn": conn.ravel()}


def _sums_8bit(pred, gt, regions, levels) -> tuple[dict[str, float], float]:
    """SAD-family scores and the Conn sum of two uint8 mattes from joint histograms (``levels`` None: every
    pixel at level 1, index 10)."""
    tables = _pair_tables()
    pred, gt = np.ascontiguousarray(pred), np.ascontiguousarray(gt)
    codes = (regions, 3) if regions is not None else (NO_CODES, 1)
    counting = kernels.prepare(KERNEL_MODULE)
    if levels is None:
        by_region = counting.joint_counts(pred, gt, *codes, NO_CODES, 0)[0]
        conn = counting.weighted_sum(by_region.sum(axis=0, dtype=np.int32), tables["conn"][10 * 65536 :])
    else:
        by_level, by_region = counting.joint_counts(pred, gt, levels, 11, *codes)
        conn = counting.weighted_sum(by_level.ravel(), tables["conn"])
    hist = by_region.astype(np.float64)
    region_abs, region_sq = hist @ tables["abs"], hist @ tables["sq"]
    scores = _whole(region_abs.sum(), region_sq.sum(), pred.size)
    if regions is not None:
        gt_counts = hist.reshape(3, 256, 256).sum(axis=1)  # region x gt value
        forced_abs = region_abs[1] + gt_counts[2] @ (1.0 - EIGHT_BIT) + gt_counts[0] @ EIGHT_BIT
        forced_sq = region_sq[1] + gt_counts[2] @ np.square(1.0 - EIGHT_BIT) + gt_counts[0] @ np.square(EIGHT_BIT)
        scores.update(_trimap_scores(forced_abs, forced_sq, int(hist[1].sum()), region_abs))
    return scores, conn


def _sums_float(p, g, regions, levels) -> tuple[dict[str, float], float]:
    """The same as ``_sums_8bit``, pixel by pixel, for float64 mattes."""
    diff = p - g
    abs_diff = np.abs(diff)
    scores = _whole(abs_diff.sum(), np.vdot(diff, diff), p.size)
    if regions is not None:
        region_abs = np.bincount(regions.ravel(), weights=abs_diff.ravel(), minlength=3)
        forced = np.where(regions == 2, 1.0 - g, np.where(regions == 0, g, abs_diff))
        unknown = int(np.count_nonzero(regions == 1))
        scores.update(_trimap_scores(forced.sum(), np.vdot(forced, forced), unknown, region_abs))
    level_values = LEVELS[10] if levels is None else LEVELS[levels]
    return scores, float(np.abs(phi_part(p - level_values) - phi_part(g - level_values)).sum())


def _whole(total_abs, total_sq, pixels: int) -> dict[str, float]:
    return {"sad": float(total_abs) / 1000, "mse": float(total_sq) / pixels, "mad": float(total_abs) / pixels}


def _trimap_scores(forced_abs, forced_sq, unknown: int, region_abs) -> dict[str, float]:
    """*-TRAN of the copy forced to 1 / 0 on trimap 255 / 0 (NaN without unknown pixels); SAD-FG and SAD-BG."""
    return {
        "sad_tran": float(forced_abs) / 1000,
        "mse_tran": float(forced_sq) / unknown if unknown else float("nan"),
        "mad_tran": float(forced_abs) / unknown if unknown else float("nan"),
        "sad_fg": float(region_abs[2]) / 1000,
        "sad_bg": float(region_abs[0]) / 1000,
    }


def _reached(matte: np.ndarray) -> np.ndarray:
    return cv2.LUT(matte, REACHED_LUT) if matte.dtype == np.uint8 else reached_counts(matte, THRESHOLDS[1:])


def _levels(pred: np.ndarray, gt: np.ndarray) -> np.ndarray | None:
    """Conn's level indices, or None when no pixel reaches 0.1 in both mattes: every threshold's set is then empty,
    so the reference skips every step and every pixel keeps level 1 (the sweep, and gt's counts if pred reaches
    none, are skipped)."""
    reached = _reached(pred)
    if reached.any():
        reached = np.minimum(reached, _reached(gt))
    if not reached.any():
        return None
    return first_exit_levels(reached, 10, skip_empty=True, column_major=False)


def score(pred: np.ndarray, gt: np.ndarray, regions: np.ndarray | None) -> dict[str, float]:
    """The GFM numbers: sad, mse, mad, [sad_tran, mse_tran, mad_tran, sad_fg, sad_bg,] grad, conn."""
    levels = _levels(pred, gt)
    if pred.dtype == gt.dtype == np.uint8:
        scores, conn = _sums_8bit(pred, gt, regions, levels)
    else:
        p, g = (cv2.LUT(m, EIGHT_BIT) if m.dtype == np.uint8 else m for m in (pred, gt))
        scores, conn = _sums_float(p, g, regions, levels)
        pred, gt = p, g  # Grad reads two 8-bit mattes as such, else both as float64
    grad = gfm_gradient_error(pred, gt) / np.float32(10)
    return scores | {"grad": float(grad), "conn": conn / 1000}
