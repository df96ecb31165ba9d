"""The result of matting one image: alpha, foreground colours, and the images made from them.

Example:
    >>> import numpy as np
    >>> m = Matte(alpha=np.full((2, 2), 0.5, np.float32), foreground=np.ones((2, 2, 3), np.float32))
    >>> m.cutout()[0, 0].tolist()
    [255, 255, 255, 128]
    >>> m.composite((0, 0, 0))[0, 0].tolist()
    [128, 128, 128]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Float values in [0, 1] to uint8 with rounding (values outside are clipped)."""
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@dataclass
class Matte:
    """``alpha``: float32 HxW in [0, 1]; ``foreground``: float32 HxWx3 in [0, 1], the colours of the object."""

    alpha: np.ndarray
    foreground: np.ndarray

    def cutout(self) -> np.ndarray:
        """RGBA uint8 HxWx4 with straight (not premultiplied) alpha."""
        return np.dstack([to_uint8(self.foreground), to_uint8(self.alpha)])

    def composite(self, background: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """The foreground over ``background`` (uint8 HxWx3 image, or an RGB triple of 0-255 values) as uint8."""
        bg = np.asarray(background, dtype=np.float32) / 255.0
        a = self.alpha[..., None]
        return to_uint8(a * self.foreground + (1.0 - a) * bg)
