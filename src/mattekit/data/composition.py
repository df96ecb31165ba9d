"""Image composition (Eq. 1) and the RSSN route of GFM (Li et al., "Bridging Composite
and Real", IJCV 2022, arXiv:2010.16188, §4): the arithmetic, on arrays.

- ``alpha_blend``: I = αF + (1 − α)B in float32, clipped to [0, 255].
- ``estimate_colours``: the foreground and background colours of a real photo given its alpha, by closed-form
  estimation (Levin et al., as the paper does: ``"cf"``) or pymatting's multi-level estimation (``"ml"``, faster).
- ``draw_recipe``: the RSSN draws, each with the paper's probability 0.5: use the BM3D-denoised foreground and
  background; blur the background with a box filter of side 20/30/40/50/60 (the official code uses ``cv2.blur``,
  a mean filter, and so does this); add Gaussian noise of σ = 10 to the composite. The modes ``coco`` and
  ``bg20k`` are plain alpha blending (they differ in the backgrounds one gives them).
- ``compose_full``: the official order, everything at the foreground's full resolution (``mattekit compose``).
- ``compose_window``: the training order: crop first, then filter and compose only the 320×320 output. The blur
  side and the transition kernels are scaled by the crop's resize factor, so they keep their size in source
  pixels; the noise is added at the output resolution, so the network sees σ = 10 (the official order adds it
  before the resize, which averages part of it away).

The same noise field is added to F and B (so to I; the official code adds it to all three), each is clipped to
[0, 255], never wrapped around (the official code wraps), and I is composed from them: Eq. 1 holds exactly for
the returned I, F and B. Backgrounds are
scaled to cover the foreground and centre-cropped, keeping their aspect ratio (the official code stretches them).

Example:
    >>> import numpy as np
    >>> fg = np.full((2, 2, 3), 200, np.uint8); bg = np.zeros((2, 2, 3), np.uint8)
    >>> alpha_blend(fg, bg, np.array([[1.0, 0.5], [0.0, 0.25]], np.float32))[..., 0].tolist()
    [[200.0, 100.0], [0.0, 50.0]]
    >>> draw_recipe(np.random.default_rng(2), "rssn")
    Recipe(denoise=True, blur_kernel=40, noise_sigma=10.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from mattekit import kernels
from mattekit.data.transforms import Window, apply_window, resize
from mattekit.errors import UsageError

MODES = ("coco", "bg20k", "rssn")
FOREGROUND_METHODS = ("cf", "ml")
BLUR_KERNELS = (20, 30, 40, 50, 60)
NOISE_SIGMA = 10.0
P_DENOISE = P_BLUR = P_NOISE = 0.5


@dataclass(frozen=True)
class Recipe:
    """The RSSN decisions for one composite: ``blur_kernel`` and ``noise_sigma`` are None when not applied."""

    denoise: bool = False
    blur_kernel: int | None = None
    noise_sigma: float | None = None

    def record(self) -> dict:
        return asdict(self)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UsageError(f"unknown composition mode {mode!r}; choose one of: {', '.join(MODES)}.")
    return mode


def draw_recipe(rng: np.random.Generator, mode: str) -> Recipe:
    """The RSSN draws for one composite (in this order: denoise, blur, blur side, noise); none for plain modes."""
    if check_mode(mode) != "rssn":
        return Recipe()
    denoise = bool(rng.random() < P_DENOISE)
    blur = bool(rng.random() < P_BLUR)
    side = int(BLUR_KERNELS[rng.integers(len(BLUR_KERNELS))])
    noise = bool(rng.random() < P_NOISE)
    return Recipe(denoise, side if blur else None, NOISE_SIGMA if noise else None)


def alpha_blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Eq. 1, I = αF + (1 − α)B, as float32 clipped to [0, 255]; ``alpha`` is float HxW in [0, 1]."""
    a = np.asarray(alpha, np.float32)[..., None]
    image = a * np.asarray(fg, np.float32)
    image += (np.float32(1) - a) * np.asarray(bg, np.float32)
    return np.clip(image, 0.0, 255.0, out=image)


def estimate_colours(image: np.ndarray, alpha: np.ndarray, method: str = "cf") -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background colours (uint8 HxWx3 each) of uint8 ``image`` under float ``alpha``.

    ``"cf"`` solves Levin et al.'s closed-form system (seconds per megapixel), ``"ml"`` runs pymatting's
    multi-level estimator (several times faster, a little less smooth).
    """
    if method not in FOREGROUND_METHODS:
        raise UsageError(f"unknown foreground method {method!r}; choose one of: {', '.join(FOREGROUND_METHODS)}.")
    pymatting = kernels.prepare()
    solve = pymatting.estimate_foreground_cf if method == "cf" else pymatting.estimate_foreground_ml
    fg, bg = solve(image.astype(np.float64) / 255.0, np.asarray(alpha, np.float64), return_background=True)
    return tuple(np.round(np.clip(c, 0.0, 1.0) * 255.0).astype(np.uint8) for c in (fg, bg))


def cover(bg_shape: tuple[int, int], shape: tuple[int, int]) -> tuple[float, float, float]:
    """(scale, y offset, x offset) that makes a background of ``bg_shape`` cover ``shape`` (H, W), centred.

    >>> cover((1080, 1920), (1080, 1620))
    (1.0, 0.0, 150.0)
    """
    scale = max(shape[0] / bg_shape[0], shape[1] / bg_shape[1])
    return scale, (bg_shape[0] * scale - shape[0]) / 2, (bg_shape[1] * scale - shape[1]) / 2


def fit_background(bg: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``bg`` scaled to cover ``shape`` (H, W) and centre-cropped to it."""
    scale, oy, ox = cover(bg.shape[:2], shape)
    size = (max(shape[1], round(bg.shape[1] * scale)), max(shape[0], round(bg.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = bg if size == (bg.shape[1], bg.shape[0]) else cv2.resize(np.ascontiguousarray(bg), size,
                                                                       interpolation=interpolation)
    y, x = round(oy), round(ox)
    return np.ascontiguousarray(scaled[y:y + shape[0], x:x + shape[1]])


def _region(array: np.ndarray, y0: int, x0: int, height: int, width: int) -> np.ndarray:
    """``array[y0:y0+height, x0:x0+width]``, edge pixels repeated where the rectangle leaves the array."""
    h, w = array.shape[:2]
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + height, h), min(x0 + width, w)
    inside = array[ys:ye, xs:xe]
    pads = (ys - y0, y0 + height - ye, xs - x0, x0 + width - xe)
    return cv2.copyMakeBorder(inside, *pads, cv2.BORDER_REPLICATE) if any(pads) else inside


def background_window(bg: np.ndarray, shape: tuple[int, int], window: Window, blur_kernel: int | None = None):
    """The part of ``bg`` that ``window`` sees once ``bg`` covers a foreground of ``shape``, at the output size.

    Only that part (plus a margin for the blur) is read and resampled. ``blur_kernel`` is in foreground pixels;
    the box filter runs at the output resolution with its side scaled by ``window.scale``.
    """
    scale, oy, ox = cover(bg.shape[:2], shape)
    out = window.output
    side = max(1, round(blur_kernel * window.scale)) if blur_kernel else 0
    margin = side // 2 + 1 if side else 0
    per_out = 1.0 / (window.scale * scale)  # background pixels per output pixel
    y0 = round((window.y + oy) / scale - margin * per_out)
    x0 = round((window.x + ox) / scale - margin * per_out)
    extent = max(1, round((out + 2 * margin) * per_out))
    part = resize(_region(bg, y0, x0, extent, extent), out + 2 * margin)
    if side > 1:
        part = cv2.blur(part, (side, side))
    part = part[margin:margin + out, margin:margin + out]
    return np.ascontiguousarray(part[:, ::-1]) if window.flip else np.ascontiguousarray(part)


def add_noise(rng: np.random.Generator, sigma: float | None, *images: np.ndarray) -> list[np.ndarray]:
    """``images`` (float32, same shape) plus one shared N(0, σ²) field; unchanged when ``sigma`` is None."""
    if not sigma:
        return list(images)
    noise = rng.standard_normal(images[0].shape, dtype=np.float32)
    noise *= np.float32(sigma)
    return [image + noise for image in images]


def _finish(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, recipe: Recipe, rng) -> dict[str, np.ndarray]:
    fg, bg = add_noise(rng, recipe.noise_sigma, fg.astype(np.float32), bg.astype(np.float32))
    if recipe.noise_sigma:
        np.clip(fg, 0.0, 255.0, out=fg)
        np.clip(bg, 0.0, 255.0, out=bg)
    return {"image": alpha_blend(fg, bg, alpha), "fg": fg, "bg": bg}


def compose_full(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, recipe: Recipe,
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The composite at the foreground's full resolution: float32 ``image``, ``fg`` and ``bg`` in [0, 255].

    ``fg`` (uint8 HxWx3) and ``bg`` (uint8, any size) are the colours to use (denoised already when
    ``recipe.denoise``); ``alpha`` is float HxW in [0, 1].
    """
    fitted = fit_background(bg, alpha.shape)
    if recipe.blur_kernel:
        fitted = cv2.blur(fitted, (recipe.blur_kernel, recipe.blur_kernel))
    return _finish(fg, fitted, alpha, recipe, rng)


def compose_window(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, window: Window, recipe: Recipe,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The composite seen through ``window`` only: float32 ``image``, ``fg``, ``bg`` in [0, 255] and ``alpha``
    in [0, 1], all at the window's output size.

    ``fg`` (uint8 HxWx3) and ``alpha`` (uint8 HxW) may be memory maps: only the crop is read.
    """
    a = apply_window(alpha, window).astype(np.float32) / np.float32(255)
    f = apply_window(fg, window)
    b = background_window(bg, alpha.shape[:2], window, recipe.blur_kernel)
    return {**_finish(f, b, a, recipe, rng), "alpha": a}
