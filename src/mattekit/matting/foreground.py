"""Foreground colours for a cut-out without a colour halo: pymatting's multi-level estimation (Germer et al.).

Where alpha is 1 the foreground is the image itself; elsewhere the estimate differs from the image by
(1 - alpha)(F - B), which varies slowly. So large images are estimated at a working resolution and that
difference is upsampled and added to the full-resolution image, keeping its texture at a fraction of the cost
and with memory that follows the working size (the full-resolution arrays are the image and the result).
A 1x1 image, which pymatting's pyramid cannot take, is estimated on a 2x2 copy of itself.

Example:
    >>> import numpy as np
    >>> image = np.full((8, 8, 3), 100, np.uint8); alpha = np.ones((8, 8), np.float32)
    >>> bool(np.allclose(estimate_foreground(image, alpha), 100 / 255))
    True
"""

from __future__ import annotations

import cv2
import numpy as np

from mattekit import kernels


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, work_pixels: int = 600_000) -> np.ndarray:
    """Foreground colours (float32 HxWx3 in [0, 1]) of a uint8 RGB ``image`` with ``alpha`` (float HxW)."""
    estimate_foreground_ml = kernels.prepare().estimate_foreground_ml  # numba kernels: loaded when first needed

    height, width = alpha.shape
    if height * width == 1:
        grown = estimate_foreground(np.tile(image, (2, 2, 1)), np.tile(alpha, (2, 2)), work_pixels)
        return grown[:1, :1].copy()
    scale = min(1.0, (work_pixels / (height * width)) ** 0.5)
    if scale == 1.0:
        rgb = image.astype(np.float32) / 255.0
        return np.clip(estimate_foreground_ml(rgb, alpha), 0.0, 1.0).astype(np.float32)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_rgb = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    small_alpha = cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    change = estimate_foreground_ml(small_rgb, small_alpha).astype(np.float32) - small_rgb
    change = cv2.resize(change, (width, height), interpolation=cv2.INTER_LINEAR)
    change[alpha >= 1.0] = 0.0
    rgb = image.astype(np.float32)
    rgb /= 255.0
    rgb += change
    return np.clip(rgb, 0.0, 1.0, out=rgb)
