"""Sampling-based alpha estimates: for each unknown pixel, the best pair of nearby known foreground and background
colours, the alpha that mixes them into the pixel's colour, and how far that estimate can be trusted.

For an unknown pixel I with candidate colours F (known foreground) and B (known background), the estimate is
the projection a = (I - B)·(F - B) / |F - B|², clipped to [0, 1]; of the ``k`` x ``k`` pairs drawn from the ``k``
nearest known pixels of each side, the pair whose mixture a F + (1 - a) B is closest to I wins. Nearness is
measured on RGB in [0, 1] plus position scaled by ``spatial`` / (long side of the image). The confidence is
exp(-residual² / ``residual_scale``) x min(|F - B|² / ``separation_scale``, 1): it falls when no pair explains
the colour well and when the two sides' colours are too alike to tell apart (as in robust matting, Wang & Cohen
2007). The focus solver uses the estimate as a data term beside the Laplacian.

Example:
    >>> import numpy as np
    >>> image = np.zeros((1, 5, 3)); image[0, 4] = 1.0; image[0, 2] = 0.25
    >>> trimap = np.array([[0, 0, 128, 255, 255]], np.uint8)
    >>> alpha, confidence = sample_alpha(image, trimap, k=2)
    >>> round(float(alpha[0]), 2), bool(confidence[0] > 0.9)
    (0.25, True)
"""

from __future__ import annotations

import numpy as np

from mattekit import kernels
from mattekit.matting.trimap import BACKGROUND, FOREGROUND, UNKNOWN


def _features(image: np.ndarray, flat: np.ndarray, spatial: float) -> np.ndarray:
    height, width = image.shape[:2]
    ys, xs = np.divmod(flat, width)
    scale = spatial / max(height, width)
    return np.column_stack([image.reshape(-1, 3)[flat], xs * scale, ys * scale]).astype(np.float32)


def sample_alpha(image: np.ndarray, trimap: np.ndarray, usable: np.ndarray | None = None, k: int = 7,
                 spatial: float = 5.0, residual_scale: float = 0.001, separation_scale: float = 0.1):
    """Alpha estimates and confidences (float64, one per unknown pixel in row-major order) of ``image``
    (float HxWx3 in [0, 1]) for a uint8 ``trimap``; known pixels are drawn only where the boolean mask
    ``usable`` is set (everywhere by default). Confidence is zero when a side has no known pixels."""
    flat = trimap.ravel()
    allowed = np.ones(flat.shape, bool) if usable is None else usable.ravel()
    unknown = np.flatnonzero(flat == UNKNOWN)
    fg, bg = np.flatnonzero((flat == FOREGROUND) & allowed), np.flatnonzero((flat == BACKGROUND) & allowed)
    if min(len(fg), len(bg)) == 0:
        return np.zeros(len(unknown)), np.zeros(len(unknown))
    queries = _features(image, unknown, spatial)
    colours = image.reshape(-1, 3).astype(np.float32)
    pixel = colours[unknown][:, None, None, :]
    candidates = []
    knn = kernels.prepare().knn  # numba kernels: loaded when first needed
    for side in (fg, bg):
        count = min(k, len(side))
        _, nearest = knn(_features(image, side, spatial), queries, k=count)
        candidates.append(colours[side[nearest.reshape(len(unknown), count)]])
    f, b = candidates[0][:, :, None, :], candidates[1][:, None, :, :]
    spread, offset = f - b, pixel - b  # F - B per pair, I - B per background candidate
    separation = np.einsum("nijc,nijc->nij", spread, spread)
    along = np.einsum("nijc,nijc->nij", np.broadcast_to(offset, spread.shape), spread)
    alpha = np.clip(along / np.maximum(separation, 1e-6), 0.0, 1.0)
    # |I - (a F + (1 - a) B)|^2 = |I - B|^2 - 2 a (I - B)·(F - B) + a^2 |F - B|^2
    residual = np.einsum("nijc,nijc->nij", offset, offset) - 2.0 * alpha * along + alpha**2 * separation
    rows = np.arange(len(unknown))
    best = residual.reshape(len(unknown), -1).argmin(axis=1)
    pick = lambda values: values.reshape(len(unknown), -1)[rows, best]  # noqa: E731
    confidence = np.exp(-pick(residual) / residual_scale) * np.minimum(pick(separation) / separation_scale, 1.0)
    return pick(alpha), confidence
