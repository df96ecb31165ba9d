"""Numba kernel behind the 8-bit GFM sums: joint counts of (code, pred value, gt value), two codes in one pass.

Every per-pixel term of two 8-bit mattes depends only on the pair of values and a code (the trimap region, or
the Conn level), so each sum is a table of 65,536 terms per code times these counts (``gfm_protocol``). The
counts are int32, exact below 2^31 pixels.

Compiled (explicit signature, numba's cache) when this module is first imported; ``mattekit.kernels`` says so.

Example:
    >>> import numpy as np
    >>> a = np.array([[0, 255]], np.uint8)
    >>> levels, regions = joint_counts(a, a, np.array([[1, 1]], np.uint8), 2, np.zeros((0, 0), np.uint8), 1)
    >>> int(levels[1, 0]), int(levels[1, 255 * 256 + 255]), int(regions.sum())
    (1, 1, 2)
    >>> weighted_sum(levels.ravel(), np.full(levels.size, 0.5))
    1.0
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit("UniTuple(int32[:, ::1], 2)(uint8[:, ::1], uint8[:, ::1], uint8[:, ::1], int64, uint8[:, ::1], int64)",
      cache=True)
def joint_counts(pred, gt, first_codes, first_count, second_codes, second_count):
    """Counts of (code, pred, gt) per pixel for two code maps, as (codes, 65536) int32 arrays indexed by
    ``code, 256·pred + gt``. An empty (0x0) code map counts every pixel under code 0; a count of 0 codes skips
    that map (a 0 x 65536 array)."""
    first = np.zeros((first_count, 65536), np.int32)
    second = np.zeros((second_count, 65536), np.int32)
    first_coded, second_coded, counting_second = first_codes.size > 0, second_codes.size > 0, second_count > 0
    height, width = pred.shape
    for r in range(height):
        for c in range(width):
            pair = np.int64(pred[r, c]) * 256 + gt[r, c]
            first[first_codes[r, c] if first_coded else 0, pair] += 1
            if counting_second:
                second[second_codes[r, c] if second_coded else 0, pair] += 1
    return first, second


@njit("float64(int32[::1], float64[::1])", cache=True)
def weighted_sum(counts, terms):
    """Σ counts[i] · terms[i] over the non-zero counts (most of the 720,896 level x pair counts are zero), with
    Neumaier's compensated summation, so the result is the exact sum rounded about once."""
    total, compensation = 0.0, 0.0
    for index in range(counts.size):
        if counts[index]:
            term = counts[index] * terms[index]
            updated = total + term
            if abs(total) >= abs(term):
                compensation += (total - updated) + term
            else:
                compensation += (term - updated) + total
            total = updated
    return total + compensation
