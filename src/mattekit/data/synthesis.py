"""Multi-person scenes for interactive training: portrait foregrounds pasted over a background, occlusion resolved.

The public procedure of multi-instance matting data, as MaGGIe builds I-HIM50K (Huynh, Oh, Shrivastava, Lee,
"MaGGIe: Masked Guided Gradual Human Instance Matting", CVPR 2024, arXiv:2404.16035; its
``tools/synthesize_image_him.py``), the kind of multi-person scenes DFIMat trains on (Jiao, Zeng, Gao, Sang,
"DFIMat: Decoupled Flexible Interactive Matting in Multi-Person Scenarios", ACCV 2024, arXiv:2410.09788): draw 2–4
portraits, crop each to its alpha's box and scale it to 50–90% of the background's height (narrowed to the
background's width if it would not fit), and paste them one after another at random positions, each over the
earlier ones.
After a paste every earlier instance alpha is multiplied by (1 − the new alpha). A position that would leave an
earlier instance with less than 70% of the area it had when it was pasted (alpha summed) is drawn again, up to 3
times; a portrait that finds no such place is left out.

The instance alphas are what each person shows in the result: they sum to at most 1 at every pixel
(Σ αⱼ·Πₖ₍ₖ>ⱼ₎(1 − αₖ) = 1 − Πₖ(1 − αₖ)), and ``image = Σ αⱼFⱼ + (1 − Σ αⱼ)B`` up to the uint8 rounding.

Example:
    >>> import numpy as np
    >>> person = np.zeros((40, 20), np.float32); person[5:40, 4:16] = 1
    >>> pool = [(np.full((40, 20, 3), 200 + 20 * i, np.uint8), person) for i in range(3)]
    >>> scene = synthesize(pool, np.zeros((100, 160, 3), np.uint8), np.random.default_rng(0))
    >>> scene.alphas.shape[1:], bool(scene.alphas.sum(0).max() <= 1)
    ((100, 160), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from mattekit.errors import InputError

COUNT = (2, 4)
HEIGHT = (0.5, 0.9)
ATTEMPTS = 3
MIN_KEPT = 0.7


@dataclass
class Scene:
    """A synthesised scene: uint8 ``image`` HxWx3, float32 ``alphas`` NxHxW (one per person, front-most last),
    ``boxes`` Nx4 int (x0, y0, x1, y1 of each visible alpha, ends exclusive), ``pasted_area`` (each alpha's sum
    when it was pasted) and ``record`` (the draws, one dict per person)."""

    image: np.ndarray
    alphas: np.ndarray
    boxes: np.ndarray
    pasted_area: np.ndarray
    record: list = field(default_factory=list)


def _cut_and_scale(colours: np.ndarray, alpha: np.ndarray, height: int, width_limit: int):
    ys, xs = np.nonzero(alpha > 0)
    if ys.size == 0:
        raise InputError("a portrait for synthesis has an empty alpha matte.")
    colours = colours[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    alpha = alpha[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    scale = min(height / alpha.shape[0], width_limit / alpha.shape[1])
    size = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return (cv2.resize(np.ascontiguousarray(colours), size, interpolation=interpolation).astype(np.float32),
            np.clip(cv2.resize(np.ascontiguousarray(alpha, np.float32), size, interpolation=interpolation), 0, 1))


def _box(alpha: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(alpha > 0)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if ys.size else [0, 0, 0, 0]


def synthesize(pool, background: np.ndarray, rng: np.random.Generator, count: int | None = None) -> Scene:
    """A scene from ``pool`` (a list of (uint8 colours HxWx3, alpha HxW float in [0, 1] or uint8)) over uint8
    ``background``; ``count`` portraits (default: 2–4 drawn) are taken from the pool without replacement."""
    height, width = background.shape[:2]
    count = int(rng.integers(COUNT[0], COUNT[1] + 1)) if count is None else count
    chosen = rng.choice(len(pool), size=min(count, len(pool)), replace=False)
    alphas = np.zeros((0, height, width), np.float32)
    pasted, colours_list, record = [], [], []
    for which in chosen:
        colours, alpha = pool[which]
        alpha = alpha.astype(np.float32) / 255.0 if alpha.dtype == np.uint8 else alpha.astype(np.float32)
        fraction = float(rng.uniform(*HEIGHT))
        colours, alpha = _cut_and_scale(colours, alpha, max(1, round(fraction * height)), width)
        h, w = alpha.shape
        for attempt in range(1, ATTEMPTS + 1):
            y, x = int(rng.integers(height - h + 1)), int(rng.integers(width - w + 1))
            layer = np.zeros((height, width), np.float32)
            layer[y:y + h, x:x + w] = alpha
            trial = alphas * (np.float32(1) - layer)
            if all(trial[j].sum() >= MIN_KEPT * pasted[j] for j in range(len(pasted))):
                break
        else:
            record.append({"foreground": int(which), "height": fraction, "placed": False})
            continue
        canvas = np.zeros((height, width, 3), np.float32)
        canvas[y:y + h, x:x + w] = colours
        alphas = np.concatenate([trial, layer[None]])
        pasted.append(float(layer.sum()))
        colours_list.append(canvas)
        record.append({"foreground": int(which), "height": fraction, "x": x, "y": y, "attempts": attempt,
                       "placed": True})
    image = background.astype(np.float32) * (np.float32(1) - alphas.sum(0))[..., None]
    for alpha, canvas in zip(alphas, colours_list):
        image += alpha[..., None] * canvas
    return Scene(np.round(np.clip(image, 0, 255)).astype(np.uint8), alphas,
                 np.array([_box(a) for a in alphas], np.int64).reshape(-1, 4), np.array(pasted), record)
