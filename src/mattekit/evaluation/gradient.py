"""Gradient magnitudes behind the Grad metric, exactly as the two reference implementations filter.

- ``gfm_gradient_magnitude``: ``scipy.ndimage.gaussian_filter(x, 1.4, order=[1, 0] / [0, 1], output=float32)``
  as GFM's ``evaluate.py`` calls it: a 13-tap derivative-of-Gaussian (truncate 4.0), border 'reflect', each
  1-D pass computed in double and stored in float32 (the second pass reads the float32 result of the first).
  The numba kernels of ``gradient_kernel`` run the passes with scipy's operations in scipy's order.
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

from mattekit import kernels

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
SCIPY_ORDER = (GFM_SMOOTH[::-1].copy(), GFM_DERIV[::-1].copy())  # scipy's gaussian_filter1d reverses the kernel
KERNEL_MODULE = "mattekit.evaluation.gradient_kernel"


def gfm_gradient_magnitude(x: np.ndarray) -> np.ndarray:
    """|∇x| as float32 with GFM's conventions (see the module docstring); ``x`` is float64 in [0, 1]."""
    return kernels.prepare(KERNEL_MODULE).magnitudes(np.ascontiguousarray(x, np.float64), *SCIPY_ORDER)


def gfm_gradient_error(p: np.ndarray, g: np.ndarray) -> np.float32:
    """Σ (|∇p| − |∇g|)² in float32, the sum behind GFM's Grad, for mattes ``p`` and ``g`` both uint8 (read as
    value / 255, the reference's PNG / 255.) or both float64.

    A magnitude depends only on the 13x13 window around its pixel (with 'reflect' borders every pixel the window
    reads lies inside it), so where both mattes are equal, or both constant, on a tile widened by the radius, the
    tile's errors are exactly 0 and it is not filtered; a matte constant there has magnitudes exactly 0 and is not
    filtered either (``gradient_kernel``). 8-bit mattes are read as such and converted band by band where they are
    filtered. The squared differences are summed over the whole image (numpy's pairwise order, as the reference),
    so the float32 sum is the reference's to the last bit.

    >>> x = np.zeros((32, 32)); y = x.copy(); y[16, 16] = 1.0
    >>> bool(gfm_gradient_error(x, y) == np.sum(np.square(gfm_gradient_magnitude(y))))
    True
    """
    if p.dtype == g.dtype == np.uint8:
        p, g = np.ascontiguousarray(p), np.ascontiguousarray(g)
        bits, scale = (p, g), 255.0
    else:
        p, g = (np.ascontiguousarray(m, np.float64) for m in (p, g))
        bits, scale = (p.view(np.uint64), g.view(np.uint64)), 1.0
    return np.sum(kernels.prepare(KERNEL_MODULE).squared_errors(p, g, *bits, scale, *SCIPY_ORDER))


def dim_gradient_magnitude(x: np.ndarray) -> np.ndarray:
    """|∇x| in float64 with the DIM MATLAB kernel and 'replicate' borders; ``x`` is float64."""
    border = cv2.BORDER_REPLICATE
    along_cols = cv2.sepFilter2D(x, -1, DIM_DERIV[::-1].copy(), DIM_SMOOTH, borderType=border)
    along_rows = cv2.sepFilter2D(x, -1, DIM_SMOOTH, DIM_DERIV[::-1].copy(), borderType=border)
    return np.sqrt(along_cols * along_cols + along_rows * along_rows)
