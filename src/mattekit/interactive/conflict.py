"""DFIMat's conflict map between rounds (Jiao et al., "DFIMat: Decoupled Flexible Interactive Matting in
Multi-Person Scenarios", ACCV 2024, arXiv 2410.09788, §3.2, the contrastive reasoning module).

``M_ref`` compares the previous round's prediction with the new round's input, pixel by pixel:
- ``NO_CONFLICT`` (0, D_r): the input says nothing here, or agrees with the prediction;
- ``WANTS_FOREGROUND`` (1, D_fg): the prediction said background (alpha <= 0.5) where the new input says foreground;
- ``WANTS_BACKGROUND`` (2, D_gf): the prediction said foreground (alpha > 0.5) where the new input says background.
Where the input speaks: positive clicks and scribbles say foreground on their pixels (``prompts.rasterise``),
negative ones background; a box says background outside itself and nothing inside; text says nothing. Before the
first round there is no prediction, so the map is all 0 (the paper initialises it to D_r). Where a positive and a
negative prompt of the same round overlap, the later prompt wins.

Example:
    >>> import numpy as np
    >>> from mattekit.interactive.prompts import Click
    >>> previous = np.zeros((1, 12), np.float32); previous[0, 8:] = 1
    >>> conflict_map(previous, [Click(1, 0), Click(10, 0, positive=False)], (1, 12)).tolist()
    [[1, 1, 1, 1, 1, 0, 0, 0, 2, 2, 2, 2]]
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from mattekit.interactive.prompts import Box, Click, Scribble, rasterise
from mattekit.io import atomic_path

NO_CONFLICT, WANTS_FOREGROUND, WANTS_BACKGROUND = 0, 1, 2
# A conflict map as an image: a palette PNG whose pixel values are the map's 0/1/2 (exact when read back as
# indices), shown black, green (wants foreground) and red (wants background).
PALETTE = (0, 0, 0, 0, 200, 0, 220, 0, 0)


def input_labels(prompts, shape: tuple[int, int]) -> np.ndarray:
    """What the input says per pixel: int8 HxW with 1 foreground, 0 background, -1 nothing."""
    said = np.full(shape[:2], -1, np.int8)
    for prompt in prompts:
        if isinstance(prompt, Box):
            said[~rasterise(prompt, shape)] = 0
    for prompt in prompts:
        if isinstance(prompt, (Click, Scribble)):
            said[rasterise(prompt, shape)] = 1 if prompt.positive else 0
    return said


def conflict_map(previous: np.ndarray | None, prompts, shape: tuple[int, int]) -> np.ndarray:
    """``M_ref`` (uint8 HxW, values 0/1/2) of the new round's ``prompts`` against the ``previous`` alpha (float
    HxW in [0, 1], or None before the first round) on an image of ``shape`` (H, W)."""
    conflict = np.zeros(shape[:2], np.uint8)
    if previous is None:
        return conflict
    said = input_labels(prompts, shape)
    was_foreground = previous > 0.5
    conflict[(said == 1) & ~was_foreground] = WANTS_FOREGROUND
    conflict[(said == 0) & was_foreground] = WANTS_BACKGROUND
    return conflict


def conflict_image(conflict: np.ndarray) -> Image.Image:
    """The conflict map as a palette image (values 0/1/2 kept exactly, shown black/green/red)."""
    image = Image.fromarray(np.asarray(conflict, np.uint8), mode="P")
    image.putpalette(PALETTE)
    return image


def save_conflict(path, conflict: np.ndarray) -> None:
    """Write the conflict map to ``path`` as a palette PNG, atomically.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "c.png")
    >>> save_conflict(path, np.array([[0, 1, 2]], np.uint8))
    >>> np.asarray(Image.open(path)).tolist()
    [[0, 1, 2]]
    """
    with atomic_path(path) as tmp:
        conflict_image(conflict).save(tmp, format="PNG")
