"""The threshold sweep behind the connectivity error (Rhemann et al. 2009): the level map ``l``.

For thresholds t_1 < ... < t_n the sweep keeps Ω_i, the largest 4-connected component of
{pred ≥ t_i} ∩ {gt ≥ t_i}; a pixel's level is t_{i-1} for the first step i whose Ω_i does not contain it, and 1
if every Ω_i does. Callers pass ``reached``: per pixel, how many of t_1..t_n both mattes reach (the sets are
nested, so ``reached >= i`` is the step-i set). Two reference behaviours exist for a step whose set is empty:
the GFM Python code skips it (``skip_empty=True``), the DIM MATLAB code assigns t_{i-1} to every pixel still
open (``skip_empty=False``). Ties in the largest area go to the component met first in row-major order
(skimage, GFM) or column-major order (MATLAB ``bwconncomp``, DIM).

Example:
    >>> import numpy as np
    >>> reached = np.array([[2, 2, 0, 1]], np.uint8)
    >>> first_exit_levels(reached, steps=2, skip_empty=True, column_major=False).tolist()
    [[2, 2, 0, 0]]
"""

from __future__ import annotations

import numpy as np

from mattekit import kernels

CONN_THETA = 0.15  # φ = 1 − d·[d ≥ θ] with d = α − l
KERNEL_MODULE = "mattekit.evaluation.connectivity_kernel"


def phi_part(d: np.ndarray) -> np.ndarray:
    """d·[d ≥ θ], the varying part of φ = 1 − d·[d ≥ θ] (|φ_p − φ_g| needs only this), in d's precision.

    >>> phi_part(np.array([0.1, 0.2])).tolist()
    [0.0, 0.2]
    """
    return np.where(d >= CONN_THETA, d, d.dtype.type(0))


def reached_counts(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per pixel, how many of the sorted ``thresholds`` are <= the value, as uint8 (also builds lookup tables).

    >>> reached_counts(np.array([0.05, 0.1, 1.0]), np.array([0.1, 0.2])).tolist()
    [0, 1, 2]
    """
    return np.searchsorted(thresholds, values, side="right").astype(np.uint8)


def first_exit_levels(reached: np.ndarray, steps: int, skip_empty: bool, column_major: bool) -> np.ndarray:
    """Per pixel, the index j of its level t_j (0..steps-1), or ``steps`` where it stays in every Ω_i (uint8).

    Ω_i is connected and lies in S_{i-1}, so it is either inside Ω_{i-1} or disjoint from it. While the Ω are
    nested, a pixel's index is the number of Ω holding it; the sweep ends at the first Ω outside the previous
    one (every pixel then has its level) or at the first empty step (every later one is empty too). The
    components of every step come from one union-find pass (``connectivity_kernel``), not one labelling each.
    """
    sweep = kernels.prepare(KERNEL_MODULE).first_exit_levels
    return sweep(np.ascontiguousarray(reached, np.uint8), steps, skip_empty, column_major)
