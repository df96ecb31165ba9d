"""The DIM MATLAB reference (``compute_*_loss.m``, ``gaussgradient.m``, ``evaluate.m``): trimap-128 pixels only.

MATLAB reads 8-bit PNGs, so the code works on single(png) and keeps single precision; Octave sums a matrix
column by column (``sum(sum(x))``) with a single-precision accumulator, which ``_octave_sum`` repeats, so the
numbers are the reference's to the last bit. Float mattes are scaled to 0-255 first.

Example:
    >>> import numpy as np
    >>> gt, unknown = np.array([[0, 255]], np.uint8), np.ones((1, 2), np.uint8)
    >>> round(score(np.array([[51, 255]], np.uint8), gt, unknown)["sad"], 7)
    0.0002
"""

from __future__ import annotations

import cv2
import numpy as np

from mattekit.evaluation.connectivity import first_exit_levels, phi_part, reached_counts
from mattekit.evaluation.gradient import DIM_RADIUS, dim_gradient_magnitude

THRESHOLDS = np.linspace(0, 1, 11).astype(np.float32)  # 0:0.1:1 as single-precision comparisons see it
EIGHT_BIT = np.arange(256, dtype=np.float32) / np.float32(255)  # single(png) / 255
REACHED_LUT = reached_counts(EIGHT_BIT, THRESHOLDS[1:])


def _single_255(matte: np.ndarray) -> np.ndarray:
    """single(png): the 0-255 values in float32."""
    return matte.astype(np.float32) if matte.dtype == np.uint8 else (matte * 255).astype(np.float32)


def _reached(matte: np.ndarray, values: np.ndarray) -> np.ndarray:
    """How many thresholds the matte reaches; ``values`` is single(matte)/255."""
    return cv2.LUT(matte, REACHED_LUT) if matte.dtype == np.uint8 else reached_counts(values, THRESHOLDS[1:])


def _octave_sum(values: np.ndarray, mask: np.ndarray) -> np.float32:
    """sum(sum(values .* mask)) in single precision, column by column as Octave accumulates."""
    columns = np.add.reduce(np.where(mask, values, np.float32(0)), axis=0, dtype=np.float32)
    return np.cumsum(columns, dtype=np.float32)[-1]


def _mat2gray(matte: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """MATLAB mat2gray in double, (x − min)·(1 / (max − min)) with the whole matte's min and max, inside ``box``;
    a constant matte has zero gradient either way.
    """
    low, high = float(matte.min()), float(matte.max())
    x = matte[box].astype(np.float64)
    return np.zeros_like(x) if low == high else (x - low) * (1.0 / (high - low))


def _unknown_box(unknown: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The bounding box of the unknown pixels widened by ``margin`` (clipped to the image)."""
    x, y, width, height = cv2.boundingRect(unknown.view(np.uint8))
    return slice(max(y - margin, 0), y + height + margin), slice(max(x - margin, 0), x + width + margin)


def single_precision_conn_errors(pred: np.ndarray, gt: np.ndarray, column_major: bool = True) -> np.ndarray:
    """|φ_pred − φ_gt| per pixel (float32) as the MATLAB code computes it: mattes single(png)/255, an empty
    threshold step assigns t_{i−1}. ``pred`` and ``gt`` are uint8 or float64 in [0, 1]. InstMatt's port
    differs only in how ties of the largest component are broken (``column_major=False``).
    """
    p, g = (_single_255(m) / np.float32(255) for m in (pred, gt))
    reached = np.minimum(_reached(pred, p), _reached(gt, g))
    levels = THRESHOLDS[first_exit_levels(reached, 10, skip_empty=False, column_major=column_major)]
    phi_p, phi_g = (np.float32(1) - phi_part(d) for d in (p - levels, g - levels))
    return np.abs(phi_p - phi_g)


def score(pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> dict[str, float]:
    """The DIM numbers sad, mse, grad, conn over the pixels where ``unknown`` is set (MSE NaN if there are none)."""
    error = (_single_255(pred) - _single_255(gt)) / np.float32(255)
    count = np.count_nonzero(unknown)
    mse = _octave_sum(error * error, unknown) / np.float32(count) if count else np.float32("nan")
    # Gradients only where the unknown pixels' 9x9 windows reach: away from the image border the box's own
    # 'replicate' border is never read, and zeros outside it do not change Octave's column sums.
    box = _unknown_box(unknown, DIM_RADIUS)
    amp_p, amp_g = (dim_gradient_magnitude(_mat2gray(m, box)).astype(np.float32) for m in (pred, gt))
    return {
        "sad": float(_octave_sum(np.abs(error), unknown) / np.float32(1000)),
        "mse": float(mse),
        "grad": float(_octave_sum(np.square(amp_p - amp_g), unknown[box]) / np.float32(1000)),
        "conn": float(_octave_sum(single_precision_conn_errors(pred, gt), unknown) / np.float32(1000)),
    }
