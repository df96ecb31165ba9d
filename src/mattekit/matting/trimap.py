"""Trimaps from a glance: which pixels are surely foreground, surely background, or in the transition.

``trimap_from_probability`` turns a soft foreground probability into a TT trimap (0/128/255). Its transition band
adapts to the image and to the glance: a ring around the 0.5 contour whose width is a fraction of the image's
short side, widened by every region where the glance is unsure (between ``low`` and ``high``, or doubted by a
second opinion) that touches the ring.

Example:
    >>> import numpy as np
    >>> prob = np.zeros((100, 100), np.float32); prob[20:80, 20:80] = 1
    >>> t = trimap_from_probability(prob, band_fraction=0.03)
    >>> sorted(np.unique(t).tolist()), int(t[50, 50]), int(t[20, 50]), int(t[0, 0])
    ([0, 128, 255], 255, 128, 0)
"""

from __future__ import annotations

import cv2
import numpy as np

FOREGROUND, UNKNOWN, BACKGROUND = 255, 128, 0
BAND_FRACTION = 0.004  # half-width of the ring around the glance's edge, as a share of the short side


def disk(radius: int) -> np.ndarray:
    """An elliptical structuring element of diameter 2*radius+1."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


_LEVELS = np.zeros(256, np.float32)
_LEVELS[FOREGROUND], _LEVELS[UNKNOWN] = 1.0, 0.5


def trimap_levels(trimap: np.ndarray) -> np.ndarray:
    """A uint8 0/128/255 trimap as float32 levels 0, 0.5 and 1, the glance form the TT merge rule takes."""
    return _LEVELS[trimap]


def band_radius(shape: tuple[int, int], band_fraction: float) -> int:
    """Half-width in pixels of the transition band for an image of ``shape`` (at least 2 pixels)."""
    return max(2, round(band_fraction * min(shape[:2])))


def trimap_from_probability(
    prob: np.ndarray, band_fraction: float = BAND_FRACTION, low: float = 0.05, high: float = 0.95,
    doubt: np.ndarray | None = None,
) -> np.ndarray:
    """A uint8 trimap from ``prob`` (float HxW in [0, 1]).

    Foreground is ``prob >= 0.5`` away from its edge. The transition is a ring of half-width
    ``band_fraction * short side`` around the edge, plus every connected region of unsure pixels
    (``low < prob < high``, or marked in the boolean mask ``doubt``) that touches the ring.
    """
    fg = (prob >= 0.5).astype(np.uint8)
    kernel = disk(band_radius(prob.shape, band_fraction))
    ring = cv2.dilate(fg, kernel) != cv2.erode(fg, kernel)
    unsure = (prob > low) & (prob < high)
    if doubt is not None:
        unsure |= doubt
    count, labels = cv2.connectedComponents((unsure | ring).astype(np.uint8), connectivity=8)
    touching = np.zeros(count, bool)
    touching[np.unique(labels[ring])] = True
    transition = touching[labels] & (labels > 0)
    trimap = np.where(fg > 0, FOREGROUND, BACKGROUND).astype(np.uint8)
    trimap[transition] = UNKNOWN
    return trimap
