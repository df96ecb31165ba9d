"""A simulated user for DFIMat's training and validation rounds (Jiao et al., ACCV 2024, arXiv 2410.09788, §5.2).

The paper's rules: clicks and scribbles play 5 rounds of 3 clicks or 2 scribbles, the first from the ground truth,
later ones in the "most significant" error areas of the previous prediction; a box or a text is one round from the
ground truth; mixed input starts with a text and a visual input, then clicks or scribbles. The paper's exact
"most significant area" is in its supplement, which we do not have; this local rule follows ScribblePrompt's
``ComponentCenterClick`` (interactive notes §2.4): the connected components of the false negatives and false
positives, largest first, one prompt each, at the pixel farthest from the component's border (a scribble starts
there and walks inside the component); positive where the person was missed, negative where it was not.

First rounds: clicks at the ground truth's innermost pixel and at random pixels at least a quarter of that depth
inside; scribbles as random walks inside the same region; a box is the ground truth's box, each side moved out by
up to 5 % of its length; a text is ``mattekit.data.layout_text``.

Example:
    >>> gt = np.zeros((40, 40), bool); gt[10:30, 5:20] = True
    >>> first_round("click", gt, "the person", np.random.default_rng(0))[0]
    Click(x=12.0, y=17.0, positive=True)
    >>> pred = np.zeros_like(gt); pred[10:30, 5:30] = True
    >>> corrections("click", gt, pred, np.random.default_rng(0))
    [Click(x=24.0, y=14.0, positive=False)]
"""

from __future__ import annotations

import cv2
import numpy as np

from mattekit.errors import UsageError
from mattekit.interactive.prompts import Box, Click, Scribble, Text

KINDS = ("click", "scribble", "box", "text", "mixed")
CLICKS, SCRIBBLES = 3, 2
BOX_JITTER = 0.05
WALK_STEPS = 4


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise UsageError(f"dfimat.interaction must be one of {', '.join(KINDS)}, not {kind!r}.")
    return kind


def depth(mask: np.ndarray) -> np.ndarray:
    """Distance of each pixel of ``mask`` to its border (the image border counts as border)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]


def innermost(mask: np.ndarray) -> tuple[int, int]:
    d = depth(mask)
    y, x = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(y), int(x)


def walk(mask: np.ndarray, start: tuple[int, int], rng: np.random.Generator, positive: bool) -> Scribble:
    """A scribble from ``start`` through up to ``WALK_STEPS`` random points of ``mask`` near each other."""
    ys, xs = np.nonzero(mask)
    reach = max(2.0, 0.25 * max(np.ptp(ys), np.ptp(xs)))
    points = [(float(start[1]), float(start[0]))]
    for _ in range(WALK_STEPS):
        near = np.nonzero(np.hypot(ys - points[-1][1], xs - points[-1][0]) <= reach)[0]
        i = near[int(rng.integers(len(near)))]
        points.append((float(xs[i]), float(ys[i])))
    return Scribble(points, positive=positive)


def first_visual(kind: str, gt: np.ndarray, rng: np.random.Generator) -> list:
    if kind == "box":
        ys, xs = np.nonzero(gt)
        h, w = gt.shape
        dy, dx = BOX_JITTER * (np.ptp(ys) + 1), BOX_JITTER * (np.ptp(xs) + 1)
        jitter = rng.uniform(0, 1, 4)
        x0, y0 = max(0.0, xs.min() - jitter[0] * dx), max(0.0, ys.min() - jitter[1] * dy)
        x1, y1 = min(w - 1.0, xs.max() + jitter[2] * dx), min(h - 1.0, ys.max() + jitter[3] * dy)
        return [Box(round(x0), round(y0), max(round(x1), round(x0) + 1), max(round(y1), round(y0) + 1))]
    d = depth(gt)
    deep = np.argwhere(d >= d.max() / 4)
    top = innermost(gt)
    if kind == "click":
        picks = [top] + [tuple(deep[int(rng.integers(len(deep)))]) for _ in range(CLICKS - 1)]
        return [Click(float(x), float(y)) for y, x in picks]
    inner = d >= d.max() / 4
    starts = [top] + [tuple(deep[int(rng.integers(len(deep)))]) for _ in range(SCRIBBLES - 1)]
    return [walk(inner, s, rng, True) for s in starts]


def first_round(kind: str, gt: np.ndarray, text: str, rng: np.random.Generator) -> list:
    """Round 1 of interaction ``kind`` for the bool ground truth ``gt`` (not empty) named by ``text``."""
    if kind == "text":
        return [Text(text)]
    if kind == "mixed":
        visual = ("click", "scribble", "box")[int(rng.integers(3))]
        return [Text(text)] + first_visual(visual, gt, rng)
    return first_visual(kind, gt, rng)


def corrections(kind: str, gt: np.ndarray, pred: np.ndarray, rng: np.random.Generator) -> list:
    """A later round: clicks (3) or scribbles (2; mixed: either, drawn) in the largest error components; empty
    when nothing is wrong or for box and text."""
    if kind in ("box", "text"):
        return []
    if kind == "mixed":
        kind = ("click", "scribble")[int(rng.integers(2))]
    count = CLICKS if kind == "click" else SCRIBBLES
    components = []
    for positive, error in ((True, gt & ~pred), (False, pred & ~gt)):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(error.astype(np.uint8), connectivity=8)
        components += [(int(stats[i, cv2.CC_STAT_AREA]), positive, labels == i) for i in range(1, n)]
    components.sort(key=lambda c: -c[0])
    prompts = []
    for _, positive, region in components[:count]:
        y, x = innermost(region)
        prompts.append(Click(float(x), float(y), positive) if kind == "click" else walk(region, (y, x), rng, positive))
    return prompts


def rounds_before(kind: str, most: int, rng: np.random.Generator) -> int:
    """How many no-gradient rounds a training sample plays before its trained round: 0..most-1 (0 for box, text)."""
    return 0 if kind in ("box", "text") else int(rng.integers(most))
