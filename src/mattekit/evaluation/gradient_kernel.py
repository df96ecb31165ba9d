"""Numba kernels behind GFM's Grad: scipy's Gaussian-derivative passes, same arithmetic, fused and tiled.

GFM's ``evaluate.py`` calls ``scipy.ndimage.gaussian_filter(x, 1.4, order=[1, 0] / [0, 1], output=float32)``:
two 1-D passes per derivative (axis 0, then axis 1), border 'reflect', each pass computed in double and stored
in float32. scipy's ``correlate1d`` folds a symmetric kernel w as ``x[i]·w[0] + Σ_{k=R..1} (x[i−k] + x[i+k])·w[−k]``
(an antisymmetric one with ``−``), k from the outermost tap inwards; the kernels here do exactly these operations
in this order, without fused multiply-adds, so each magnitude equals scipy's bit for bit.

The vertical pass runs along a row of the output at a time (all columns at once, so it vectorises), the
horizontal pass on a float32-rounded, reflect-padded copy of it. ``squared_errors`` works on tiles: a tile's
errors depend only on the tile widened by the kernel radius R. Where there both mattes are equal, or both
constant, the two magnitudes are equal, so the tile's errors are exactly 0 and it is skipped; where one matte is
constant its magnitudes are exactly 0 (each pass sums ±0 terms, or takes a difference of equal values) and only
the other is filtered.

Compiled (explicit signatures, numba's cache) when this module is first imported; ``mattekit.kernels`` says so.

Example:
    >>> import numpy as np
    >>> from mattekit.evaluation.gradient import GFM_SMOOTH, GFM_DERIV
    >>> x = np.zeros((5, 5)); x[:, 3:] = 1.0
    >>> float(magnitudes(x, GFM_SMOOTH[::-1].copy(), GFM_DERIV[::-1].copy())[2, 0]) > 0
    True
"""

from __future__ import annotations

import numpy as np
from numba import njit

TILE_ROWS, TILE_COLS = 16, 64
_TILE_SIGNATURE = (
    "void(float64[:, ::1], int64, int64, int64, int64, float64[::1], float64[::1], float32[:, ::1], float64[:, ::1])"
)


@njit(cache=True, inline="always")
def _reflect(i, n):
    """scipy's 'reflect' (d c b a | a b c d) index into a line of n, periodic beyond one reflection."""
    i %= 2 * n
    return 2 * n - 1 - i if i >= n else i


@njit(cache=True, inline="always")
def _fold(acc, a, b, a0, b0, weight, n, sign):
    """acc[j] += (a[a0 + j] ± b[b0 + j]) · weight for j < n; one operation order, vectorised."""
    if sign > 0:
        for j in range(n):
            acc[j] += (a[a0 + j] + b[b0 + j]) * weight
    else:
        for j in range(n):
            acc[j] += (a[a0 + j] - b[b0 + j]) * weight


@njit(_TILE_SIGNATURE, cache=True)
def tile_magnitudes(x, r0, r1, c0, c1, smooth, deriv, out, work):
    """|∇x| at rows r0..r1-1, columns c0..c1-1 of x into out[:r1-r0, :c1-c0] (float32, scipy's arithmetic).

    ``smooth`` and ``deriv`` are the kernels as scipy applies them (reversed); ``work`` is a (4, W + 2R) buffer.
    """
    height, width = x.shape
    radius = smooth.shape[0] // 2
    first, last = max(c0 - radius, 0), min(c1 + radius, width)  # columns the horizontal pass reads
    span, n = last - first, c1 - c0
    along_rows, along_cols, padded_rows, padded_cols = work[0], work[1], work[2], work[3]
    for r in range(r0, r1):
        row = x[r]
        for j in range(span):  # vertical passes: derivative (for ∂/∂row) and smoothing (for ∂/∂col)
            along_rows[j] = row[first + j] * deriv[radius]
            along_cols[j] = row[first + j] * smooth[radius]
        for k in range(-radius, 0):
            above, below = x[_reflect(r + k, height)], x[_reflect(r - k, height)]
            _fold(along_rows, above, below, first, first, deriv[radius + k], span, -1)
            _fold(along_cols, above, below, first, first, smooth[radius + k], span, 1)
        for j in range(n + 2 * radius):  # stored in float32 as scipy's output array, reflect-padded
            col = c0 - radius + j
            if col < 0 or col >= width:
                col = _reflect(col, width)
            padded_rows[j] = np.float32(along_rows[col - first])
            padded_cols[j] = np.float32(along_cols[col - first])
        for j in range(n):  # horizontal passes: smoothing after ∂/∂row, derivative after the smoothing
            along_rows[j] = padded_rows[radius + j] * smooth[radius]
            along_cols[j] = padded_cols[radius + j] * deriv[radius]
        for k in range(-radius, 0):
            _fold(along_rows, padded_rows, padded_rows, radius + k, radius - k, smooth[radius + k], n, 1)
            _fold(along_cols, padded_cols, padded_cols, radius + k, radius - k, deriv[radius + k], n, -1)
        target = out[r - r0]
        for j in range(n):
            d_row, d_col = np.float32(along_rows[j]), np.float32(along_cols[j])
            target[j] = np.sqrt(d_row * d_row + d_col * d_col)


@njit("float32[:, ::1](float64[:, ::1], float64[::1], float64[::1])", cache=True)
def magnitudes(x, smooth, deriv):
    """|∇x| of the whole image as float32."""
    out = np.empty(x.shape, np.float32)
    tile_magnitudes(x, 0, x.shape[0], 0, x.shape[1], smooth, deriv, out, np.empty((4, x.shape[1] + smooth.size)))
    return out


@njit(cache=True)
def _window_state(p, g, r0, r1, c0, c1):
    """On rows r0..r1-1 x columns c0..c1-1: whether p equals g, whether p is constant, whether g is constant."""
    equal, p_flat, g_flat = True, True, True
    p_first, g_first = p[r0, c0], g[r0, c0]
    for r in range(r0, r1):
        for c in range(c0, c1):
            a, b = p[r, c], g[r, c]
            equal &= a == b
            p_flat &= a == p_first
            g_flat &= b == g_first
        if not (equal or p_flat or g_flat):
            break
    return equal, p_flat, g_flat


@njit("float32[:, ::1](float64[:, ::1], float64[:, ::1], float64[::1], float64[::1])", cache=True)
def squared_errors(p, g, smooth, deriv):
    """(|∇p| − |∇g|)² per pixel as float32, exactly 0 on the tiles skipped (see the module docstring)."""
    height, width = p.shape
    radius = smooth.shape[0] // 2
    errors = np.zeros(p.shape, np.float32)
    work = np.empty((4, width + 2 * radius))
    tile_p = np.empty((TILE_ROWS, TILE_COLS), np.float32)
    tile_g = np.empty((TILE_ROWS, TILE_COLS), np.float32)
    for r0 in range(0, height, TILE_ROWS):
        r1 = min(r0 + TILE_ROWS, height)
        for c0 in range(0, width, TILE_COLS):
            c1 = min(c0 + TILE_COLS, width)
            equal, p_flat, g_flat = _window_state(p, g, max(r0 - radius, 0), min(r1 + radius, height),
                                                  max(c0 - radius, 0), min(c1 + radius, width))
            if equal or (p_flat and g_flat):
                continue
            for matte, flat, tile in ((p, p_flat, tile_p), (g, g_flat, tile_g)):
                if flat:
                    tile[:] = 0  # a constant window's magnitude is exactly 0
                else:
                    tile_magnitudes(matte, r0, r1, c0, c1, smooth, deriv, tile, work)
            for r in range(r1 - r0):
                for c in range(c1 - c0):
                    difference = tile_p[r, c] - tile_g[r, c]
                    errors[r0 + r, c0 + c] = difference * difference
    return errors
