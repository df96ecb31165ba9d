"""Numba kernels behind GFM's Grad: scipy's Gaussian-derivative passes, same arithmetic, fused and tiled.

GFM's ``evaluate.py`` calls ``scipy.ndimage.gaussian_filter(x, 1.4, order=[1, 0] / [0, 1], output=float32)``:
two 1-D passes per derivative (axis 0, then axis 1), border 'reflect', each pass computed in double and stored
in float32. scipy's ``correlate1d`` folds a symmetric kernel w as ``x[i]·w[0] + Σ_{k=R..1} (x[i−k] + x[i+k])·w[−k]``
(an antisymmetric one with ``−``), k from the outermost tap inwards; the kernels here do exactly these operations
in this order, without fused multiply-adds, so each magnitude equals scipy's bit for bit.

Each band of 16 rows is first loaded (rows widened by the kernel radius R, 'reflect' beyond the image) into a
float64 buffer: an 8-bit matte is read there as value / 255, the reference's PNG / 255., so no float64 copy of
the image is made. The vertical pass runs along a row of the output at a time, the horizontal pass on its
float32-rounded, reflect-padded result; the 13 taps are written out, so each pixel's sums stay in registers and
the column loops vectorise (four times faster than one loop per tap). ``squared_errors`` works on 16x64 tiles: a
tile's errors depend only on the tile widened by R. Where there both mattes are equal, or both constant, the two
magnitudes are equal, so the tile's errors are exactly 0 and it is skipped; where one matte is constant its
magnitudes are exactly 0 (each pass sums ±0 terms, or takes a difference of equal values) and only the other is
filtered. Neighbouring tiles to filter in a row of tiles are filtered in one call. The tests come from one pass
over the rows (``_row_states``: per row and widened tile, XORs of the 8-bit values or of the float64s' bits).

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
BAND_ROWS = TILE_ROWS + 2 * RADIUS  # the rows a band of tile rows reads
_TILE_SIGNATURE = "void(float64[:, ::1], int64, int64, int64, float64[::1], float64[::1], float32[:, ::1])"
_ERRORS_SIGNATURES = [
    f"float32[:, ::1]({matte}, {matte}, {bits}, {bits}, float64, float64[::1], float64[::1])"
    for matte, bits in (("float64[:, ::1]", "uint64[:, ::1]"), ("uint8[:, ::1]", "uint8[:, ::1]"))
]


@njit(inline="always")
def _reflect(i, n):
    """scipy's 'reflect' (d c b a | a b c d) index into a line of n, periodic beyond one reflection."""
    i %= 2 * n
    return 2 * n - 1 - i if i >= n else i


@njit(cache=True)
def _load_band(matte, scale, r0, r1, c0, c1, band):
    """Rows r0 − R .. r1 + R − 1 of ``matte`` ('reflect' beyond its edges), columns c0..c1-1, divided by
    ``scale`` (255 for 8-bit values, as the reference's PNG / 255.; 1, exact, for float64), into ``band``."""
    height = matte.shape[0]
    for i in range(r1 - r0 + 2 * RADIUS):
        source, target = matte[_reflect(r0 - RADIUS + i, height)], band[i]
        for j in range(np.uint64(c0), np.uint64(c1)):
            target[j] = np.float64(source[j]) / scale


@njit(_TILE_SIGNATURE, cache=True)
def tile_magnitudes(band, rows, c0, c1, smooth, deriv, out):
    """|∇x| at ``rows`` rows, columns c0..c1-1, into out[:rows, c0:c1] (float32, scipy's arithmetic), from the
    band of x ``_load_band`` fills: band row i holds image row r0 − R + i, on columns c0 − R .. c1 + R − 1.

    ``smooth`` and ``deriv`` are the 13-tap kernels as scipy applies them (reversed): the pair at distance k is
    weighted by ``kernel[RADIUS - k]``. The taps are written out so that each pixel's sums stay in registers and
    the column loops vectorise; the two row buffers are allocated here, so the compiler knows they alias nothing.
    The column loops index with unsigned integers, for which numba emits no negative-index wrap-around: 1.6-1.8x
    faster than with signed ones.
    """
    width = band.shape[1]
    s0, s1, s2, s3, s4, s5, s6 = smooth[6], smooth[5], smooth[4], smooth[3], smooth[2], smooth[1], smooth[0]
    d0, d1, d2, d3, d4, d5, d6 = deriv[6], deriv[5], deriv[4], deriv[3], deriv[2], deriv[1], deriv[0]
    first, last = max(c0 - RADIUS, 0), min(c1 + RADIUS, width)  # the columns the horizontal pass reads
    offset, n = c0 - RADIUS, c1 - c0  # buffer index = column - offset
    along_rows, along_cols = np.empty(n + 2 * RADIUS), np.empty(n + 2 * RADIUS)
    for k in range(rows):
        centre = band[k + 6]
        a1, b1, a2, b2, a3, b3 = band[k + 5], band[k + 7], band[k + 4], band[k + 8], band[k + 3], band[k + 9]
        a4, b4, a5, b5, a6, b6 = band[k + 2], band[k + 10], band[k + 1], band[k + 11], band[k], band[k + 12]
        for column in range(last - first):  # vertical passes, stored in float32 as scipy's output array
            j, o = np.uint64(first + column), np.uint64(first - offset + column)  # image, buffer index
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
            along_rows[o] = np.float32(derivative)
            along_cols[o] = np.float32(smoothed)
        for i in range(first - offset):  # 'reflect' padding beyond the image's left side
            along_rows[i] = along_rows[_reflect(offset + i, width) - offset]
            along_cols[i] = along_cols[_reflect(offset + i, width) - offset]
        for i in range(last - offset, n + 2 * RADIUS):  # and its right side
            along_rows[i] = along_rows[_reflect(offset + i, width) - offset]
            along_cols[i] = along_cols[_reflect(offset + i, width) - offset]
        target = out[k, c0:c1]
        for j in range(np.uint64(0), np.uint64(n)):  # horizontal passes: smooth ∂/∂row, differentiate
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
    height, width = x.shape
    out, band = np.empty(x.shape, np.float32), np.empty((BAND_ROWS, width))
    for r0 in range(0, height, TILE_ROWS):
        r1 = min(r0 + TILE_ROWS, height)
        _load_band(x, 1.0, r0, r1, 0, width, band)
        tile_magnitudes(band, r1 - r0, 0, width, smooth, deriv, out[r0:r1])
    return out


@njit(cache=True)
def _row_states(p, g, tiles):
    """Per row and tile widened by R columns: whether p and g differ somewhere, whether p and g vary, and their
    first values. ``p`` and ``g`` are integers (8-bit values, or the bits of float64s), so equal bits are equal
    values and each test is an OR of XORs, which vectorises."""
    height, width = p.shape
    differs, p_varies, g_varies = (np.empty((height, tiles), np.bool_), np.empty((height, tiles), np.bool_),
                                   np.empty((height, tiles), np.bool_))
    p_first, g_first = np.empty((height, tiles), p.dtype), np.empty((height, tiles), p.dtype)
    for r in range(height):
        p_row, g_row = p[r], g[r]
        for t in range(tiles):
            c0, c1 = max(t * TILE_COLS - RADIUS, 0), min((t + 1) * TILE_COLS + RADIUS, width)
            p0, g0 = p_row[c0], g_row[c0]
            difference, p_change, g_change = p0 ^ p0, p0 ^ p0, p0 ^ p0
            for c in range(np.uint64(c0), np.uint64(c1)):
                difference |= p_row[c] ^ g_row[c]
                p_change |= p_row[c] ^ p0
                g_change |= g_row[c] ^ g0
            differs[r, t], p_varies[r, t], g_varies[r, t] = difference != 0, p_change != 0, g_change != 0
            p_first[r, t], g_first[r, t] = p0, g0
    return differs, p_varies, g_varies, p_first, g_first


@njit(cache=True)
def _window_state(states, r0, r1, t):
    """On rows r0..r1-1 of tile t's widened columns: whether p equals g, whether p is constant, whether g is."""
    differs, p_varies, g_varies, p_first, g_first = states
    equal, p_flat, g_flat = True, True, True
    for r in range(r0, r1):
        equal &= not differs[r, t]
        p_flat &= not p_varies[r, t] and p_first[r, t] == p_first[r0, t]
        g_flat &= not g_varies[r, t] and g_first[r, t] == g_first[r0, t]
    return equal, p_flat, g_flat


@njit(cache=True)
def _filter_runs(matte, scale, r0, r1, tiles, needed, band, smooth, deriv, out):
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
        c0, c1 = t * TILE_COLS, min(u * TILE_COLS, width)
        _load_band(matte, scale, r0, r1, max(c0 - RADIUS, 0), min(c1 + RADIUS, width), band)
        tile_magnitudes(band, r1 - r0, c0, c1, smooth, deriv, out)
        t = u


@njit(_ERRORS_SIGNATURES, cache=True)
def squared_errors(p, g, p_bits, g_bits, scale, smooth, deriv):
    """(|∇p| − |∇g|)² per pixel as float32, exactly 0 on the tiles skipped (see the module docstring).

    ``p`` and ``g`` are float64 (``scale`` 1) or 8-bit values (``scale`` 255); ``p_bits`` and ``g_bits`` are
    the same arrays read as integers (the 8-bit arrays themselves, or the float64s' bits)."""
    height, width = p.shape
    tiles = (width + TILE_COLS - 1) // TILE_COLS
    states = _row_states(p_bits, g_bits, tiles)
    errors = np.empty(p.shape, np.float32)
    magnitude_p, magnitude_g = np.empty((TILE_ROWS, width), np.float32), np.empty((TILE_ROWS, width), np.float32)
    band = np.empty((BAND_ROWS, width))
    skip, filter_p, filter_g = np.empty(tiles, np.bool_), np.empty(tiles, np.bool_), np.empty(tiles, np.bool_)
    for r0 in range(0, height, TILE_ROWS):
        r1 = min(r0 + TILE_ROWS, height)
        for t in range(tiles):
            equal, p_flat, g_flat = _window_state(states, max(r0 - RADIUS, 0), min(r1 + RADIUS, height), t)
            skip[t] = equal or (p_flat and g_flat)
            filter_p[t], filter_g[t] = not (skip[t] or p_flat), not (skip[t] or g_flat)  # constant: exactly 0
        _filter_runs(p, scale, r0, r1, tiles, filter_p, band, smooth, deriv, magnitude_p)
        _filter_runs(g, scale, r0, r1, tiles, filter_g, band, smooth, deriv, magnitude_g)
        for r in range(r1 - r0):  # skipped tiles: exactly 0
            p_row, g_row, target = magnitude_p[r], magnitude_g[r], errors[r0 + r]
            for t in range(tiles):
                c0, c1 = t * TILE_COLS, min((t + 1) * TILE_COLS, width)
                if skip[t]:
                    target[c0:c1] = 0
                    continue
                for c in range(np.uint64(c0), np.uint64(c1)):
                    difference = p_row[c] - g_row[c]
                    target[c] = difference * difference
    return errors
