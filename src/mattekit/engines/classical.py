"""Classical interactive peers that serve sessions: GrabCut + closed-form, and closed-form from the prompts alone.

Both have no memory of rounds: every round they read the prompts of rounds 1..t together
(``RoundInput.all_prompts``), and they work at a reduced resolution (``work_pixels``: 150,000 for ``grabcut-cf``,
80,000 for ``levin-scribbles``, whose linear system spans nearly every pixel), the alpha scaled back up
bilinearly. Neither reads text.

- ``grabcut-cf``: GrabCut (Rother, Kolmogorov and Blake, "GrabCut: interactive foreground extraction using
  iterated graph cuts", SIGGRAPH 2004) seeded by the prompts: outside the last box is background and inside it
  probable foreground; without a box every pixel starts as probable background; click and scribble pixels are
  hard labels. Then closed-form matting (Levin, Lischinski and Weiss, "A closed-form solution to natural image
  matting", CVPR 2006 / TPAMI 2008, via pymatting) in a band of ``band`` working pixels each side of GrabCut's
  mask edge, the prompt pixels kept known.
- ``levin-scribbles``: closed-form matting with the prompts as its only constraints (Levin et al.'s scribble
  matting): positive click and scribble pixels are foreground, negative ones and the outside of a box background,
  every other pixel unknown. With no background constraint the closed-form solution is 1 everywhere, with no
  foreground constraint 0 everywhere; both are returned as such without solving.

Example:
    >>> from mattekit.interactive import Click, Session                                   # doctest: +SKIP
    >>> Session(image, "levin-scribbles").round([Click(10, 10), Click(90, 5, False)]).alpha.dtype   # doctest: +SKIP
    dtype('float32')
"""

from __future__ import annotations

import contextlib
import io

import cv2
import numpy as np

from mattekit import kernels
from mattekit.errors import UsageError
from mattekit.interactive.prompts import Box, label_masks, rasterise
from mattekit.matte import Matte
from mattekit.matting.foreground import estimate_foreground
from mattekit.matting.trimap import disk

WORK_PIXELS = 150_000
LEVIN_WORK_PIXELS = 80_000  # its linear system spans every unknown pixel, i.e. nearly the whole image


class WorkImage:
    """An image and its copy scaled down to at most ``work_pixels`` pixels (the per-session state)."""

    def __init__(self, image: np.ndarray, work_pixels: int):
        height, width = image.shape[:2]
        self.scale = min(1.0, (work_pixels / (height * width)) ** 0.5)
        size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self.image = image
        self.work = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if self.scale < 1 else image

    def full_size(self, alpha: np.ndarray) -> np.ndarray:
        height, width = self.image.shape[:2]
        if alpha.shape != (height, width):
            alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.clip(alpha, 0, 1).astype(np.float32)


def closed_form(work: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """pymatting's closed-form alpha (float32) of ``work`` (uint8 RGB) under a 0/128/255 ``trimap``; pixels
    already known are copied, and a trimap lacking foreground or background gives that constant."""
    if not (trimap == 255).any() or not (trimap == 0).any():
        return np.full(trimap.shape, 1.0 if (trimap == 255).any() else 0.0, np.float32)
    if not (trimap == 128).any():
        return (trimap == 255).astype(np.float32)
    estimate_alpha_cf = kernels.prepare().estimate_alpha_cf
    with contextlib.redirect_stdout(io.StringIO()):  # pymatting prints when its first preconditioner fails
        alpha = estimate_alpha_cf(work.astype(np.float64) / 255.0, trimap.astype(np.float64) / 255.0)
    return np.clip(alpha, 0, 1).astype(np.float32)


def _matte(state: WorkImage, alpha_work: np.ndarray) -> Matte:
    alpha = state.full_size(alpha_work)
    return Matte(alpha=alpha, foreground=estimate_foreground(state.image, alpha, WORK_PIXELS))


class _ClassicalPeer:
    """What both peers share: the working copy, trimap-based ``predict`` and the prompt constraints."""

    name = ""

    def __init__(self, weights=None, work_pixels: int = WORK_PIXELS):
        if weights is not None:
            raise UsageError(f"the {self.name} engine has no weights; leave out --weights.")
        self.work_pixels = work_pixels

    def prepare(self, image: np.ndarray) -> WorkImage:
        return WorkImage(image, self.work_pixels)

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> Matte:
        """Closed-form matting under ``trimap`` (this engine needs one, or prompts in a session)."""
        if trimap is None:
            raise UsageError(f"the {self.name} engine needs a trimap or prompts; use it in a session or with "
                             "--trimap-input dataset.")
        state = self.prepare(image)
        work_trimap = cv2.resize(trimap, state.work.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        return _matte(state, closed_form(state.work, work_trimap))

    @staticmethod
    def constraints(state: WorkImage, prompts) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(positive, negative, inside the last box or None) bool masks at the working size."""
        shape = state.work.shape[:2]
        positive, negative = label_masks(prompts, shape, state.scale)
        boxes = [p for p in prompts if isinstance(p, Box)]
        return positive, negative, rasterise(boxes[-1], shape, state.scale) if boxes else None


class GrabCutClosedForm(_ClassicalPeer):
    """GrabCut seeded by the prompts, then closed-form matting in a band around its mask (module docstring)."""

    name = "grabcut-cf"

    def __init__(self, weights=None, work_pixels: int = WORK_PIXELS, band: int = 6, iterations: int = 3):
        super().__init__(weights, work_pixels)
        self.band, self.iterations = band, iterations

    def round(self, image: np.ndarray, state: WorkImage, given) -> Matte:
        positive, negative, inside = self.constraints(state, given.all_prompts)
        labels = np.full(positive.shape, cv2.GC_PR_BGD, np.uint8)
        if inside is not None:
            labels[inside], labels[~inside] = cv2.GC_PR_FGD, cv2.GC_BGD
        labels[positive], labels[negative] = cv2.GC_FGD, cv2.GC_BGD
        is_fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        if not is_fg.any():
            return _matte(state, np.zeros(labels.shape, np.float32))
        if (~is_fg).any():
            cv2.setRNGSeed(0)  # GrabCut's k-means draws from OpenCV's global generator: same prompts, same cut
            cv2.grabCut(state.work, labels, None, np.zeros((1, 65)), np.zeros((1, 65)), self.iterations,
                        cv2.GC_INIT_WITH_MASK)
        mask = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.uint8)
        kernel = disk(self.band)
        trimap = np.where(cv2.erode(mask, kernel) > 0, 255, 0).astype(np.uint8)
        trimap[(cv2.dilate(mask, kernel) > 0) & (trimap == 0)] = 128
        trimap[positive], trimap[negative] = 255, 0
        if inside is not None:
            trimap[~inside] = 0
        return _matte(state, closed_form(state.work, trimap))


class LevinScribbles(_ClassicalPeer):
    """Closed-form matting with the prompts as its only constraints (module docstring)."""

    name = "levin-scribbles"

    def __init__(self, weights=None, work_pixels: int = LEVIN_WORK_PIXELS):
        super().__init__(weights, work_pixels)

    def round(self, image: np.ndarray, state: WorkImage, given) -> Matte:
        positive, negative, inside = self.constraints(state, given.all_prompts)
        trimap = np.full(positive.shape, 128, np.uint8)
        if inside is not None:
            trimap[~inside] = 0
        trimap[positive], trimap[negative] = 255, 0
        return _matte(state, closed_form(state.work, trimap))
