"""Gradient magnitudes behind the Grad metric, exactly as the two reference implementations filter.

- ``gfm_gradient_magnitude``: ``scipy.ndimage.gaussian_filter(x, 1.4, order=[1, 0] / [0, 1], output=float32)``
  as GFM's ``evaluate.py`` calls it: a 13-tap derivative-of-Gaussian (truncate 4.0), border 'reflect', each
  1-D pass computed in double and stored in float32 (the second pass reads the float32 result of the first).
  OpenCV runs the passes; the numbers are the same as scipy's.
- ``dim_gradient_magnitude``: ``gaussgradient(x, 1.4)`` of the DIM MATLAB code: the 9x9 kernel
  g(row)·g'(col) scaled to unit L2 norm, filtered with 'replicate' borders, in double precision.

Example:
    >>> import numpy as np
    >>> step = np.repeat([[0.0] * 8 + [1.0] * 8], 16, axis=0)
    >>> float(gfm_gradient_magnitude(step).max()) > float(gfm_gradient_magnitude(step * 0.5).max())
    True
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SIGMA = 1.4


def _scipy_gaussian_kernels(sigma: float, truncate: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """scipy's 1-D Gaussian and first-derivative kernels (radius int(truncate·σ + 0.5)), same arithmetic."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    smooth = np.exp(-0.5 / (sigma * sigma) * x**2)
    smooth = smooth / smooth.sum()
    return smooth, x * (1.0 / -(sigma * sigma)) * smooth


def _dim_gaussian_kernels(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """gaussgradient.m's factors: half size ceil(σ·sqrt(-2 ln(sqrt(2π)·σ·0.01))), each scaled to unit norm."""
    half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * 1e-2)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(x**2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))
    dgauss = -x * gauss / sigma**2
    return gauss / np.linalg.norm(gauss), dgauss / np.linalg.norm(dgauss)


GFM_SMOOTH, GFM_DERIV = _scipy_gaussian_kernels(SIGMA)
DIM_SMOOTH, DIM_DERIV = _dim_gaussian_kernels(SIGMA)
DIM_RADIUS = len(DIM_DERIV) // 2
GFM_RADIUS = len(GFM_DERIV) // 2


def _pass(x: np.ndarray, kernel: np.ndarray, axis: int, border: int) -> np.ndarray:
    """Convolve float64 ``x`` along ``axis`` with a 1-D kernel (OpenCV correlates, so the kernel is reversed)."""
    taps = np.ascontiguousarray(kernel[::-1])
    return cv2.filter2D(x, -1, taps.reshape(-1, 1) if axis == 0 else taps.reshape(1, -1), borderType=border)


def gfm_gradient_magnitude(x: np.ndarray) -> np.ndarray:
    """|∇x| as float32 with GFM's conventions (see the module docstring); ``x`` is float64 in [0, 1]."""
    border = cv2.BORDER_REFLECT
    rows = _pass(_pass(x, GFM_DERIV, 0, border).astype(np.float32).astype(np.float64), GFM_SMOOTH, 1, border)
    cols = _pass(_pass(x, GFM_SMOOTH, 0, border).astype(np.float32).astype(np.float64), GFM_DERIV, 1, border)
    rows, cols = rows.astype(np.float32), cols.astype(np.float32)
    return np.sqrt(rows * rows + cols * cols)


def _widened(start: int, stop: int, size: int) -> slice:
    """[start, stop) widened by the GFM kernel radius on both sides, clipped to [0, size)."""
    return slice(max(start - GFM_RADIUS, 0), min(stop + GFM_RADIUS, size))


def gfm_gradient_error(p: np.ndarray, g: np.ndarray) -> np.float32:
    """Σ (|∇p| − |∇g|)² in float32, the sum behind GFM's Grad, for float64 mattes ``p`` and ``g``.

    A magnitude depends only on the 13x13 window around its pixel (with 'reflect' borders every pixel the window
    reads lies inside it), so outside the bounding box of p ≠ g widened by the radius both magnitudes are computed
    from the same numbers and their difference is exactly 0. The filters run on that box widened once more (the
    crop's own border is never read, except where it is the image's); the squared differences are summed in an
    image of zeros, so even the float32 sum is the whole-image computation's to the last bit.

    >>> x = np.zeros((32, 32)); y = x.copy(); y[16, 16] = 1.0
    >>> bool(gfm_gradient_error(x, y) == np.sum(np.square(gfm_gradient_magnitude(y))))
    True
    """
    x, y, width, height = cv2.boundingRect((p != g).view(np.uint8))
    if width == 0:
        return np.float32(0)
    box = _widened(y, y + height, p.shape[0]), _widened(x, x + width, p.shape[1])
    crop = tuple(_widened(axis.start, axis.stop, size) for axis, size in zip(box, p.shape))
    inside = tuple(slice(axis.start - outer.start, axis.stop - outer.start) for axis, outer in zip(box, crop))
    errors = np.zeros(p.shape, np.float32)  # summed over the whole image: numpy's pairwise order, as the reference
    errors[box] = np.square(gfm_gradient_magnitude(p[crop])[inside] - gfm_gradient_magnitude(g[crop])[inside])
    return np.sum(errors)


def dim_gradient_magnitude(x: np.ndarray) -> np.ndarray:
    """|∇x| in float64 with the DIM MATLAB kernel and 'replicate' borders; ``x`` is float64."""
    border = cv2.BORDER_REPLICATE
    along_cols = cv2.sepFilter2D(x, -1, DIM_DERIV[::-1].copy(), DIM_SMOOTH, borderType=border)
    along_rows = cv2.sepFilter2D(x, -1, DIM_SMOOTH, DIM_DERIV[::-1].copy(), borderType=border)
    return np.sqrt(along_cols * along_cols + along_rows * along_rows)
