"""Numba kernels behind GFM's Grad: scipy's Gaussian-derivative passes, same arithmetic, fused and tiled.

GFM's ``evaluate.py`` calls ``scipy.ndimage.gaussian_filter(x, 1.4, order=[1, 0] / [0, 1], output=float32)``:
two 1-D passes per derivative (axis 0, then axis 1), border 'reflect', each pass computed in double and stored
in float32. scipy's ``correlate1d`` folds a symmetric kernel w as ``x[i]·w[0] + Σ_{k=R..1} (x[i−k] + x[i+k])·w[−k]``
(an antisymmetric one with ``−``), k from the outermost tap inwards; the kernels here do exactly these operations
in this order, without fused multiply-adds, so each magnitude equals scipy's bit for bit.

The vertical pass runs along a row of the output at a time, the horizontal pass on its float32-rounded,
reflect-padded result; the 13 taps are written out, so each pixel's sums stay in registers and the column loops
vectorise (four times faster than one loop per tap). ``squared_errors`` works on 16x64 tiles: a tile's errors
depend only on the tile widened by the kernel radius R. Where there both mattes are equal, or both constant, the
two magnitudes are equal, so the tile's errors are exactly 0 and it is skipped; where one matte is constant its
magnitudes are exactly 0 (each pass sums ±0 terms, or takes a difference of equal values) and only the other is
filtered. Neighbouring tiles to filter in a row of tiles are filtered in one call.

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
RADIUS = 6  # int(4.0 · 1.4 + 0.5): scipy's radius for GFM's σ = 1.4, truncate 4
_TILE_SIGNATURE = (
    "void(float64[:, ::1], int64, int64, int64, int64, float64[::1], float64[::1], float32[:, ::1])"
)


@njit(inline="always")
def _reflect(i, n):
    """scipy's 'reflect' (d c b a | a b c d) index into a line of n, periodic beyond one reflection."""
    i %= 2 * n
    return 2 * n - 1 - i if i >= n else i


@njit(_TILE_SIGNATURE, cache=True)
def tile_magnitudes(x, r0, r1, c0, c1, smooth, deriv, out):
    """|∇x| at rows r0..r1-1, columns c0..c1-1 of x into out[:r1-r0, c0:c1] (float32, scipy's arithmetic).

    ``smooth`` and ``deriv`` are the 13-tap kernels as scipy applies them (reversed): the pair at distance k is
    weighted by ``kernel[RADIUS - k]``. The taps are written out so that each pixel's sums stay in registers and
    the column loops vectorise; the two row buffers are allocated here, so the compiler knows they alias nothing.
    """
    height, width = x.shape
    s0, s1, s2, s3, s4, s5, s6 = smooth[6], smooth[5], smooth[4], smooth[3], smooth[2], smooth[1], smooth[0]
    d0, d1, d2, d3, d4, d5, d6 = deriv[6], deriv[5], deriv[4], deriv[3], deriv[2], deriv[1], deriv[0]
    first, last = max(c0 - RADIUS, 0), min(c1 + RADIUS, width)  # the columns the horizontal pass reads
    offset, n = c0 - RADIUS, c1 - c0  # buffer index = column - offset
    along_rows, along_cols = np.empty(n + 2 * RADIUS), np.empty(n + 2 * RADIUS)
    for r in range(r0, r1):
        centre = x[r]
        a1, b1 = x[_reflect(r - 1, height)], x[_reflect(r + 1, height)]
        a2, b2 = x[_reflect(r - 2, height)], x[_reflect(r + 2, height)]
        a3, b3 = x[_reflect(r - 3, height)], x[_reflect(r + 3, height)]
        a4, b4 = x[_reflect(r - 4, height)], x[_reflect(r + 4, height)]
        a5, b5 = x[_reflect(r - 5, height)], x[_reflect(r + 5, height)]
        a6, b6 = x[_reflect(r - 6, height)], x[_reflect(r + 6, height)]
        for j in range(first, last):  # vertical passes, stored in float32 as scipy's output array
            derivative = centre[j] * d0
            derivative += (a6[j] - b6[j]) * d6
            derivative += (a5[j] - b5[j]) * d5
            derivative += (a4[j] - b4[j]) * d4
            derivative += (a3[j] - b3[j]) * d3
            derivative += (a2[j] - b2[j]) * d2
            derivative += (a1[j] - b1[j]) * d1
            smoothed = centre[j] * s0
            smoothed += (a6[j] + b6[j]) * s6
            smoothed += (a5[j] + b5[j]) * s5
            smoothed += (a4[j] + b4[j]) * s4
            smoothed += (a3[j] + b3[j]) * s3
            smoothed += (a2[j] + b2[j]) * s2
            smoothed += (a1[j] + b1[j]) * s1
            along_rows[j - offset] = np.float32(derivative)
            along_cols[j - offset] = np.float32(smoothed)
        for i in range(n + 2 * RADIUS):  # 'reflect' padding beyond the image's sides
            col = offset + i
            if col < 0 or col >= width:
                along_rows[i] = along_rows[_reflect(col, width) - offset]
                along_cols[i] = along_cols[_reflect(col, width) - offset]
        target = out[r - r0, c0:c1]
        for j in range(n):  # horizontal passes: smoothing after ∂/∂row, derivative after the smoothing
            q, w = along_rows, along_cols
            d_row = q[j + 6] * s0
            d_row += (q[j] + q[j + 12]) * s6
            d_row += (q[j + 1] + q[j + 11]) * s5
            d_row += (q[j + 2] + q[j + 10]) * s4
            d_row += (q[j + 3] + q[j + 9]) * s3
            d_row += (q[j + 4] + q[j + 8]) * s2
            d_row += (q[j + 5] + q[j + 7]) * s1
            d_col = w[j + 6] * d0
            d_col += (w[j] - w[j + 12]) * d6
            d_col += (w[j + 1] - w[j + 11]) * d5
            d_col += (w[j + 2] - w[j + 10]) * d4
            d_col += (w[j + 3] - w[j + 9]) * d3
            d_col += (w[j + 4] - w[j + 8]) * d2
            d_col += (w[j + 5] - w[j + 7]) * d1
            row32, col32 = np.float32(d_row), np.float32(d_col)
            target[j] = np.sqrt(row32 * row32 + col32 * col32)


@njit("float32[:, ::1](float64[:, ::1], float64[::1], float64[::1])", cache=True)
def magnitudes(x, smooth, deriv):
    """|∇x| of the whole image as float32."""
    out = np.empty(x.shape, np.float32)
    tile_magnitudes(x, 0, x.shape[0], 0, x.shape[1], smooth, deriv, out)
    return out


@njit(cache=True)
def _window_state(p, g, r0, r1, c0, c1):
    """On rows r0..r1-1 x columns c0..c1-1: whether p equals g, whether p is constant, whether g is constant."""
    unequal, p_varies, g_varies = 0, 0, 0  # counts of pixels against each property, summed row by row
    p_first, g_first = p[r0, c0], g[r0, c0]
    for r in range(r0, r1):
        p_row, g_row = p[r], g[r]
        for c in range(c0, c1):  # branch-free, so the row is read in vectors
            unequal += p_row[c] != g_row[c]
            p_varies += p_row[c] != p_first
            g_varies += g_row[c] != g_first
        if unequal and p_varies and g_varies:
            break
    return unequal == 0, p_varies == 0, g_varies == 0


@njit(cache=True)
def _filter_runs(matte, r0, r1, tiles, needed, smooth, deriv, out):
    """Magnitudes of ``matte`` on rows r0..r1-1 over each run of consecutive tiles marked in ``needed`` (one call
    per run, so the per-row set-up is shared), and 0 on the other tiles; ``out`` is indexed by image column."""
    width = matte.shape[1]
    t = 0
    while t < tiles:
        if not needed[t]:
            out[:, t * TILE_COLS : min((t + 1) * TILE_COLS, width)] = 0
            t += 1
            continue
        u = t
        while u < tiles and needed[u]:
            u += 1
        tile_magnitudes(matte, r0, r1, t * TILE_COLS, min(u * TILE_COLS, width), smooth, deriv, out)
        t = u


@njit("float32[:, ::1](float64[:, ::1], float64[:, ::1], float64[::1], float64[::1])", cache=True)
def squared_errors(p, g, smooth, deriv):
    """(|∇p| − |∇g|)² per pixel as float32, exactly 0 on the tiles skipped (see the module docstring)."""
    height, width = p.shape
    tiles = (width + TILE_COLS - 1) // TILE_COLS
    errors = np.zeros(p.shape, np.float32)
    magnitude_p, magnitude_g = np.empty((TILE_ROWS, width), np.float32), np.empty((TILE_ROWS, width), np.float32)
    skip, filter_p, filter_g = np.empty(tiles, np.bool_), np.empty(tiles, np.bool_), np.empty(tiles, np.bool_)
    for r0 in range(0, height, TILE_ROWS):
        r1 = min(r0 + TILE_ROWS, height)
        for t in range(tiles):
            c0, c1 = t * TILE_COLS, min((t + 1) * TILE_COLS, width)
            equal, p_flat, g_flat = _window_state(p, g, max(r0 - RADIUS, 0), min(r1 + RADIUS, height),
                                                  max(c0 - RADIUS, 0), min(c1 + RADIUS, width))
            skip[t] = equal or (p_flat and g_flat)
            filter_p[t], filter_g[t] = not (skip[t] or p_flat), not (skip[t] or g_flat)  # constant: exactly 0
        _filter_runs(p, r0, r1, tiles, filter_p, smooth, deriv, magnitude_p)
        _filter_runs(g, r0, r1, tiles, filter_g, smooth, deriv, magnitude_g)
        for t in range(tiles):
            if skip[t]:
                continue
            for r in range(r1 - r0):
                for c in range(t * TILE_COLS, min((t + 1) * TILE_COLS, width)):
                    difference = magnitude_p[r, c] - magnitude_g[r, c]
                    errors[r0 + r, c] = difference * difference
    return errors
