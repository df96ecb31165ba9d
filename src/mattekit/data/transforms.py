"""Training augmentation of GFM (Li et al., "Bridging Composite and Real", IJCV 2022,
arXiv:2010.16188, §5.2): a square crop, a horizontal flip, a resize to 320×320.

The crop side is drawn from 640/960/1280; a side that is not smaller than the image's short side falls back to
320 (and to the short side itself when even 320 does not fit). With probability 0.5 the crop is centred on a
random transition pixel (0 < alpha < 1; the official code looks for alpha == 128 by mistake), otherwise it is
placed uniformly. The crop is flipped with probability 0.5 and resized to 320×320: area averaging when shrinking,
bilinear when enlarging, nearest neighbour for class maps so that no interpolated class value appears.

Draw once with ``draw_window`` and apply the same window to every map with ``apply_window``. The draws come
from the numpy Generator passed in, in a fixed order, so a seed reproduces them.

Example:
    >>> import numpy as np
    >>> alpha = np.zeros((1080, 1620), np.uint8); alpha[300:800, 500:1100] = 255
    >>> window = draw_window(np.random.default_rng(0), alpha)
    >>> window.size in (320, 640, 960), apply_window(alpha, window).shape
    (True, (320, 320))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CROP_SIZES = (640, 960, 1280)
FALLBACK_CROP = 320
OUTPUT_SIZE = 320
P_TRANSITION = 0.5
P_FLIP = 0.5
_TRANSITION_STRIDE = 4  # transition pixels are looked for on this grid: cheaper, and as good for placing a crop


@dataclass(frozen=True)
class Window:
    """A square crop (top-left ``y``, ``x``, side ``size``) of the source, flipped or not, resized to ``output``."""

    y: int
    x: int
    size: int
    flip: bool
    on_transition: bool
    output: int = OUTPUT_SIZE

    @property
    def scale(self) -> float:
        """Output pixels per source pixel."""
        return self.output / self.size

    def record(self) -> dict:
        """The draws as plain numbers, for a manifest or a training log."""
        return {"crop_y": self.y, "crop_x": self.x, "crop_size": self.size, "flip": self.flip,
                "on_transition": self.on_transition}


def crop_side(rng: np.random.Generator, height: int, width: int, sizes=CROP_SIZES) -> int:
    """A crop side drawn from ``sizes``, falling back to 320 (or the short side) when it does not fit."""
    side = int(sizes[rng.integers(len(sizes))])
    if side >= min(height, width):
        side = FALLBACK_CROP if FALLBACK_CROP < min(height, width) else min(height, width)
    return side


def _transition_pixel(rng: np.random.Generator, alpha: np.ndarray) -> tuple[int, int] | None:
    top = 255 if alpha.dtype == np.uint8 else 1
    grid = np.asarray(alpha[::_TRANSITION_STRIDE, ::_TRANSITION_STRIDE])
    ys, xs = np.nonzero((grid > 0) & (grid < top))
    if ys.size == 0:
        return None
    pick = rng.integers(ys.size)
    return int(ys[pick]) * _TRANSITION_STRIDE, int(xs[pick]) * _TRANSITION_STRIDE


def draw_window(rng: np.random.Generator, alpha: np.ndarray, sizes=CROP_SIZES, output: int = OUTPUT_SIZE,
                p_transition: float = P_TRANSITION, p_flip: float = P_FLIP) -> Window:
    """Draw a crop window for ``alpha`` (HxW, uint8 or float; only read to find the transition)."""
    height, width = alpha.shape[:2]
    side = crop_side(rng, height, width, sizes)
    centre = _transition_pixel(rng, alpha) if rng.random() < p_transition else None
    if centre is not None:
        y = min(max(centre[0] - side // 2, 0), height - side)
        x = min(max(centre[1] - side // 2, 0), width - side)
    else:
        y = int(rng.integers(height - side + 1))
        x = int(rng.integers(width - side + 1))
    return Window(int(y), int(x), side, bool(rng.random() < p_flip), centre is not None, output)


def resize(array: np.ndarray, size: int, kind: str = "image") -> np.ndarray:
    """Resize ``array`` (HxW or HxWxC) to ``size``×``size``: area/bilinear for images and alphas, nearest for
    class maps (``kind="class"``)."""
    if array.shape[0] == size and array.shape[1] == size:
        return np.array(array)
    if kind == "class":
        interpolation = cv2.INTER_NEAREST
    else:
        interpolation = cv2.INTER_AREA if array.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(array, (size, size), interpolation=interpolation)  # reads a strided crop in place


def apply_window(array: np.ndarray, window: Window, kind: str = "image") -> np.ndarray:
    """Crop ``array`` (HxW or HxWxC, a memory map is fine: only the crop is read), resize and flip it."""
    crop = array[window.y:window.y + window.size, window.x:window.x + window.size]
    out = resize(crop, window.output, kind)
    return np.ascontiguousarray(out[:, ::-1]) if window.flip else out
