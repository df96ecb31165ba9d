"""Matting metrics under the two reference protocols, numbers identical to the reference implementations.

- ``protocol="gfm"``: the official GFM / P3M / AIM evaluation (``core/evaluate.py``), whole image, float64
  (Grad float32). Keys ``sad, mse, mad, grad, conn``, plus ``sad_tran, mse_tran, mad_tran, sad_fg, sad_bg``
  when a trimap is given.
- ``protocol="dim"``: the DIM MATLAB reference (``compute_*_loss.m``, ``evaluate.m``), pixels with trimap 128,
  single precision, trimap required. Keys ``sad, mse, grad, conn``.

Inputs: ``pred`` and ``gt`` are uint8 (0-255) or float in [0, 1]; ``trimap`` is uint8 with 0/128/255. A float32
array whose values all lie on the 8-bit grid (k/255, what ``mattekit.io.load_alpha`` returns for 8-bit PNGs)
is read as those 8-bit values, so it scores exactly like the PNG read by the reference code. The formulas,
scales and quirks are in ``docs/metrics.md``.

Example:
    >>> import numpy as np
    >>> gt = np.zeros((4, 4), np.uint8); gt[1:3, 1:3] = 255
    >>> trimap = np.full((4, 4), 128, np.uint8)
    >>> scores = evaluate(np.zeros((4, 4), np.uint8), gt, trimap)
    >>> scores["sad"], scores["mse"], scores["sad_tran"], scores["mse_tran"]
    (0.004, 0.25, 0.004, 0.25)
    >>> sorted(evaluate(gt, gt, trimap, protocol="dim"))
    ['conn', 'grad', 'mse', 'sad']
"""

from __future__ import annotations

from functools import cache

import numpy as np

from mattekit.errors import InputError, UsageError
from mattekit.evaluation.connectivity import first_exit_levels, reached_counts
from mattekit.evaluation.gradient import dim_gradient_magnitude, gfm_gradient_magnitude
from mattekit.io import load_alpha, load_trimap

PROTOCOLS = ("gfm", "dim")
GFM_KEYS = ("sad", "mse", "mad", "grad", "conn")
GFM_TRIMAP_KEYS = ("sad_tran", "mse_tran", "mad_tran", "sad_fg", "sad_bg")
DIM_KEYS = ("sad", "mse", "grad", "conn")

CONN_THETA = 0.15
# GFM: np.arange(0, 1.1, 0.1), whose 7th entry is 0.6000000000000001; its level map is float32.
GFM_THRESHOLDS = np.arange(0, 1.1, 0.1)
GFM_LEVELS = np.append(GFM_THRESHOLDS[:-1].astype(np.float32), 1.0).astype(np.float64)
# DIM: 0:0.1:1 compared with single-precision mattes; the level map enters single-precision arithmetic.
DIM_THRESHOLDS = np.linspace(0, 1, 11).astype(np.float32)
DIM_LEVELS = DIM_THRESHOLDS.copy()

EIGHT_BIT_GFM = np.arange(256) / 255.0  # what the reference gets from PNG / 255. (float64)
EIGHT_BIT_DIM = np.arange(256, dtype=np.float32) / np.float32(255)  # single(png) / 255
REACHED_GFM = reached_counts(EIGHT_BIT_GFM, GFM_THRESHOLDS[1:])
REACHED_DIM = reached_counts(EIGHT_BIT_DIM, DIM_THRESHOLDS[1:])
TRIMAP_REGION = np.full(256, 3, np.uint8)
TRIMAP_REGION[[0, 128, 255]] = [0, 1, 2]  # background, unknown, foreground


def as_matte(values, name: str) -> np.ndarray:
    """``values`` as a 2-D uint8 array, or float64 in [0, 1] when it is not on the 8-bit grid."""
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"{name} must be a non-empty 2-D array (H, W), not of shape {arr.shape}.")
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"{name} must be uint8 (0-255) or float in [0, 1], not {arr.dtype}.")
    low, high = float(arr.min()), float(arr.max())
    if not (0.0 <= low and high <= 1.0):  # also false for NaN
        raise InputError(f"{name} holds values outside [0, 1] (from {low:g} to {high:g}); pass floats in [0, 1].")
    if arr.dtype == np.float32:
        codes = np.rint(arr * np.float32(255))
        if np.array_equal(codes / np.float32(255), arr):
            return codes.astype(np.uint8)
    return arr.astype(np.float64)


def _trimap_regions(trimap, shape: tuple[int, int]) -> np.ndarray:
    """Region codes 0 (background), 1 (unknown), 2 (foreground) of a validated uint8 trimap."""
    arr = np.asarray(trimap)
    if arr.shape != shape:
        raise InputError(f"trimap has shape {arr.shape} but pred and gt have shape {shape}; they must match.")
    if arr.dtype != np.uint8:
        raise InputError(f"trimap must be uint8 with values 0, 128 and 255, not {arr.dtype}.")
    regions = TRIMAP_REGION[arr]
    if (regions == 3).any():
        stray = int(arr[regions == 3][0])
        raise InputError(f"trimap holds the value {stray}; a trimap holds only 0, 128 and 255.")
    return regions


def _float64(matte: np.ndarray) -> np.ndarray:
    return matte / 255.0 if matte.dtype == np.uint8 else matte  # the values of EIGHT_BIT_GFM


def _reached(matte: np.ndarray, table: np.ndarray, thresholds: np.ndarray, dtype) -> np.ndarray:
    return table[matte] if matte.dtype == np.uint8 else reached_counts(matte.astype(dtype), thresholds)


def _phi_part(d: np.ndarray) -> np.ndarray:
    """d·[d ≥ θ]: the connectivity φ = 1 − d·[d ≥ θ] without its constant (|φp − φg| needs only this)."""
    return np.where(d >= CONN_THETA, d, 0.0)


@cache
def _eight_bit_tables() -> dict[str, np.ndarray]:
    """Per (pred, gt) 8-bit pair, the per-pixel GFM terms: |p − g|, (p − g)², and |Δφ| per level (float64)."""
    v = EIGHT_BIT_GFM
    diff = v[:, None] - v[None, :]
    part = _phi_part(v[None, :] - GFM_LEVELS[:, None])  # level x value
    return {"abs": np.abs(diff), "sq": diff * diff, "conn": np.abs(part[:, :, None] - part[:, None, :])}


def _gfm_sums_8bit(pred, gt, regions, levels) -> tuple[dict[str, float], float]:
    """SAD-family scores and the Conn sum from joint histograms of (region or level, pred, gt) codes."""
    tables, pairs = _eight_bit_tables(), (pred.astype(np.intp) << 8 | gt).ravel()
    conn = float(np.bincount(pairs + (levels.ravel().astype(np.intp) << 16), minlength=11 << 16) @ tables["conn"].ravel())
    if regions is None:
        hist = np.bincount(pairs, minlength=1 << 16)[None]
    else:
        hist = np.bincount(pairs + (regions.ravel().astype(np.intp) << 16), minlength=3 << 16).reshape(3, -1)
    region_abs, region_sq = hist @ tables["abs"].ravel(), hist @ tables["sq"].ravel()
    scores = _whole(region_abs.sum(), region_sq.sum(), pred.size)
    if regions is not None:
        gt_hist = hist.reshape(3, 256, 256).sum(axis=1)  # region x gt value
        g = EIGHT_BIT_GFM
        forced_abs = region_abs[1] + gt_hist[2] @ (1.0 - g) + gt_hist[0] @ g
        forced_sq = region_sq[1] + gt_hist[2] @ np.square(1.0 - g) + gt_hist[0] @ np.square(g)
        scores.update(_trimap_scores(forced_abs, forced_sq, int(hist[1].sum()), region_abs))
    return scores, conn


def _gfm_sums_float(p, g, regions, levels) -> tuple[dict[str, float], float]:
    """The same as ``_gfm_sums_8bit`` for mattes not on the 8-bit grid, pixel by pixel."""
    diff = p - g
    abs_diff = np.abs(diff)
    scores = _whole(abs_diff.sum(), np.vdot(diff, diff), p.size)
    if regions is not None:
        region_abs = np.bincount(regions.ravel(), weights=abs_diff.ravel(), minlength=3)
        forced = np.where(regions == 2, 1.0 - g, np.where(regions == 0, g, abs_diff))
        unknown = int(np.count_nonzero(regions == 1))
        scores.update(_trimap_scores(forced.sum(), np.vdot(forced, forced), unknown, region_abs))
    level_values = GFM_LEVELS[levels]
    return scores, float(np.abs(_phi_part(p - level_values) - _phi_part(g - level_values)).sum())


def _whole(total_abs, total_sq, pixels: int) -> dict[str, float]:
    return {"sad": float(total_abs) / 1000, "mse": float(total_sq) / pixels, "mad": float(total_abs) / pixels}


def _trimap_scores(forced_abs, forced_sq, unknown: int, region_abs) -> dict[str, float]:
    """*-TRAN of the copy forced to 1 / 0 on trimap 255 / 0 (NaN means without unknown pixels); SAD-FG/BG."""
    return {
        "sad_tran": float(forced_abs) / 1000,
        "mse_tran": float(forced_sq) / unknown if unknown else float("nan"),
        "mad_tran": float(forced_abs) / unknown if unknown else float("nan"),
        "sad_fg": float(region_abs[2]) / 1000,
        "sad_bg": float(region_abs[0]) / 1000,
    }


def _gfm(pred: np.ndarray, gt: np.ndarray, regions: np.ndarray | None) -> dict[str, float]:
    p, g = _float64(pred), _float64(gt)
    reached = np.minimum(
        _reached(pred, REACHED_GFM, GFM_THRESHOLDS[1:], np.float64),
        _reached(gt, REACHED_GFM, GFM_THRESHOLDS[1:], np.float64),
    )
    levels = first_exit_levels(reached, 10, skip_empty=True, column_major=False)
    eight_bit = pred.dtype == gt.dtype == np.uint8
    scores, conn = (_gfm_sums_8bit(pred, gt, regions, levels) if eight_bit else _gfm_sums_float(p, g, regions, levels))
    grad = np.sum(np.square(gfm_gradient_magnitude(p) - gfm_gradient_magnitude(g))) / np.float32(10)
    return scores | {"grad": float(grad), "conn": conn / 1000}


def _octave_sum(values: np.ndarray, mask: np.ndarray) -> np.float32:
    """sum(sum(values .* mask)) in single precision, column by column as Octave accumulates."""
    columns = np.add.reduce(np.where(mask, values, np.float32(0)), axis=0, dtype=np.float32)
    return np.cumsum(columns, dtype=np.float32)[-1]


def _single_255(matte: np.ndarray) -> np.ndarray:
    """single(png): the 0-255 values in float32 (float mattes are scaled to that range)."""
    return matte.astype(np.float32) if matte.dtype == np.uint8 else (matte * 255).astype(np.float32)


def single_precision_conn_errors(pred: np.ndarray, gt: np.ndarray, column_major: bool = True) -> np.ndarray:
    """|φ_pred − φ_gt| per pixel (float32) as the MATLAB code computes it: mattes single(png)/255, an empty
    step assigns t_{i−1}; ``pred`` and ``gt`` come from ``as_matte``. InstMatt's port differs only in ties.
    """
    reached = np.minimum(
        _reached(pred, REACHED_DIM, DIM_THRESHOLDS[1:], np.float32),
        _reached(gt, REACHED_DIM, DIM_THRESHOLDS[1:], np.float32),
    )
    levels = DIM_LEVELS[first_exit_levels(reached, 10, skip_empty=False, column_major=column_major)]
    p, g = (_single_255(m) / np.float32(255) for m in (pred, gt))
    phi_p, phi_g = (np.float32(1) - _phi_part(d).astype(np.float32) for d in (p - levels, g - levels))
    return np.abs(phi_p - phi_g)


def _dim(pred: np.ndarray, gt: np.ndarray, regions: np.ndarray) -> dict[str, float]:
    unknown = regions == 1
    error = (_single_255(pred) - _single_255(gt)) / np.float32(255)
    sad = _octave_sum(np.abs(error), unknown) / np.float32(1000)
    count = np.count_nonzero(unknown)
    mse = _octave_sum(error * error, unknown) / np.float32(count) if count else np.float32("nan")
    amp_p, amp_g = (dim_gradient_magnitude(_mat2gray(m)).astype(np.float32) for m in (pred, gt))
    grad = _octave_sum(np.square(amp_p - amp_g), unknown) / np.float32(1000)
    conn = _octave_sum(single_precision_conn_errors(pred, gt), unknown) / np.float32(1000)
    return {"sad": float(sad), "mse": float(mse), "grad": float(grad), "conn": float(conn)}


def _mat2gray(matte: np.ndarray) -> np.ndarray:
    """MATLAB mat2gray in double: (x − min)·(1 / (max − min)); a constant matte has zero gradient either way."""
    x = matte.astype(np.float64)
    low, high = float(x.min()), float(x.max())
    return np.zeros_like(x) if low == high else (x - low) * (1.0 / (high - low))


def evaluate(pred, gt, trimap=None, protocol: str = "gfm") -> dict[str, float]:
    """Score ``pred`` against ``gt`` under ``protocol`` ("gfm" or "dim"); see the module docstring for keys.

    >>> a = np.array([[0, 255]], np.uint8)
    >>> evaluate(a, a)
    {'sad': 0.0, 'mse': 0.0, 'mad': 0.0, 'grad': 0.0, 'conn': 0.0}
    """
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown metrics protocol {protocol!r}; choose 'gfm' or 'dim'.")
    pred, gt = as_matte(pred, "pred"), as_matte(gt, "gt")
    if pred.shape != gt.shape:
        raise InputError(f"pred has shape {pred.shape} but gt has shape {gt.shape}; they must match.")
    if protocol == "dim" and trimap is None:
        raise InputError("the dim protocol scores the trimap's unknown region, so it needs a trimap.")
    regions = None if trimap is None else _trimap_regions(trimap, pred.shape)
    return _gfm(pred, gt, regions) if protocol == "gfm" else _dim(pred, gt, regions)


def evaluate_files(pred_path, gt_path, trimap_path=None, protocol: str = "gfm") -> dict[str, float]:
    """``evaluate`` on files read with ``mattekit.io``; a size mismatch names both files.

    >>> evaluate_files("pred.png", "gt.png", "trimap.png", protocol="dim")  # doctest: +SKIP
    {'sad': 10.71, 'mse': 0.0052, 'grad': 7.93, 'conn': 9.84}
    """
    pred, gt = load_alpha(pred_path), load_alpha(gt_path)
    if pred.shape != gt.shape:
        raise InputError(
            f"{pred_path} is {pred.shape[1]}x{pred.shape[0]} but {gt_path} is {gt.shape[1]}x{gt.shape[0]}; "
            "a prediction must have its ground truth's size."
        )
    trimap = None if trimap_path is None else load_trimap(trimap_path, gt.shape)
    return evaluate(pred, gt, trimap, protocol=protocol)
