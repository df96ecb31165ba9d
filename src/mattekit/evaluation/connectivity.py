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

import cv2
import numpy as np


def reached_counts(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per pixel, how many of the sorted ``thresholds`` are <= the value, as uint8 (also builds lookup tables).

    >>> reached_counts(np.array([0.05, 0.1, 1.0]), np.array([0.1, 0.2])).tolist()
    [0, 1, 2]
    """
    return np.searchsorted(thresholds, values, side="right").astype(np.uint8)


def _largest_label(labels: np.ndarray, areas: np.ndarray, column_major: bool) -> int:
    """Label (>= 1) of the largest component; ties go to the component whose first pixel comes first."""
    largest = np.flatnonzero(areas == areas.max()) + 1
    if largest.size == 1:
        return int(largest[0])
    scan = labels.T if column_major else labels
    first = [int(np.argmax((scan == label).ravel())) for label in largest]
    return int(largest[int(np.argmin(first))])


def first_exit_levels(reached: np.ndarray, steps: int, skip_empty: bool, column_major: bool) -> np.ndarray:
    """Per pixel, the index j of its level t_j (0..steps-1), or ``steps`` where it stays in every Ω_i.

    Ω_i is connected and lies in S_{i-1}, so it is either inside Ω_{i-1} or disjoint from it. While the Ω are
    nested, a pixel's index is the number of Ω holding it; the sweep ends at the first Ω outside the previous
    one (every pixel then has its level) or at the first empty step (every later one is empty too).
    """
    inside = np.zeros(reached.shape, np.uint8)
    depth, previous = 0, None
    stays = True  # whether the pixels of every Ω keep l = 1
    for step in range(1, steps + 1):
        count, labels = cv2.connectedComponents((reached >= step).view(np.uint8), connectivity=4, ltype=cv2.CV_32S)
        if count == 1:
            stays = skip_empty
            break
        best = 1 if count == 2 else _largest_label(labels, np.bincount(labels.ravel(), minlength=count)[1:], column_major)
        omega = labels == best
        if previous is not None and not previous.flat[int(np.argmax(omega))]:
            stays = False
            break
        inside += omega
        depth, previous = depth + 1, omega
    if stays:
        inside[inside == depth] = steps
    return inside
