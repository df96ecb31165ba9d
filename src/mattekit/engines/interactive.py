"""The offline interactive engine: DFIMat's decoupling (semantic capture, then refinement) from offline parts.

DFIMat (Jiao et al., ACCV 2024, arXiv 2410.09788, §3) splits interactive matting into finding the instance the
person means and refining its matte. Without trained DFIMat weights, this engine builds both from what ships:

- semantic capture (at a working resolution): an instance prior from the default engine's segmenters (MODNet,
  U²-Netp), run on the box (with a margin) or on the whole image and cached per session, kept to the connected
  regions that positive clicks and scribbles touch; then a graph cut (OpenCV GrabCut) seeded by the prior as the
  probable labels, every click and scribble as hard labels, the previous round's mask where the prior is silent,
  and the conflict map's regions forced to the person's side;
- refinement: a trimap around that mask (the segmenter's unsure pixels widen it; click and scribble pixels are
  known), solved by mattekit's focus (``mattekit.matting.focus``), foreground colours as the default engine.

Example:
    >>> from mattekit.interactive import Box, Session                      # doctest: +SKIP
    >>> Session("people.jpg", "interactive").round([Box(40, 10, 300, 470)]).alpha.shape   # doctest: +SKIP
    (480, 640)
"""

from __future__ import annotations

import cv2
import numpy as np

from mattekit.engines.default import DefaultEngine, choose_glance
from mattekit.interactive.conflict import WANTS_BACKGROUND, WANTS_FOREGROUND
from mattekit.interactive.prompts import Box, label_masks
from mattekit.matte import Matte
from mattekit.matting.focus import solve_focus
from mattekit.matting.foreground import estimate_foreground
from mattekit.matting.trimap import trimap_from_probability

BOX_MARGIN = 0.1  # share of the box's size added on each side before the segmenters see the crop


class ImageState:
    """The per-image work of a session: a working copy and the segmenters' maps, computed once when first
    needed (whole image, or per box crop)."""

    def __init__(self, image: np.ndarray, segmenters: DefaultEngine, work_pixels: int):
        self.image = image
        height, width = image.shape[:2]
        self.scale = min(1.0, (work_pixels / (height * width)) ** 0.5)
        size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self.work = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if self.scale < 1 else image
        self.segmenters = segmenters
        self._crops: dict[tuple, np.ndarray] = {}

    def probability(self, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The trusted foreground probability (float32, working size) of the whole image, or of the working
        image's crop ``box`` (x0, y0, x1, y1, ends exclusive) placed on a zero canvas."""
        height, width = self.work.shape[:2]
        key = box or (0, 0, width, height)
        if key not in self._crops:
            x0, y0, x1, y1 = key
            crop = np.ascontiguousarray(self.work[y0:y1, x0:x1])
            probs = {"modnet": self.segmenters.modnet.probability(crop),
                     "u2netp": self.segmenters.u2netp.probability(crop)}
            canvas = np.zeros((height, width), np.float32)
            canvas[y0:y1, x0:x1] = probs[choose_glance(probs["modnet"], probs["u2netp"])]
            self._crops[key] = canvas
        return self._crops[key]


class InteractiveEngine:
    """Offline interactive matting; see the module docstring. ``work_pixels``: the semantic capture's working
    resolution; ``focus_pixels``: the refinement's; ``grabcut_iterations``: GrabCut's iterations per round."""

    name = "interactive"

    def __init__(self, weights=None, work_pixels: int = 300_000, focus_pixels: int = 400_000,
                 grabcut_iterations: int = 2):
        self.defaults = DefaultEngine(weights=weights)
        self.work_pixels = work_pixels
        self.focus_pixels = focus_pixels
        self.grabcut_iterations = grabcut_iterations

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> Matte:
        """Automatic or trimap-based matting, as the default engine (no prompts)."""
        return self.defaults.predict(image, trimap)

    def prepare(self, image: np.ndarray) -> ImageState:
        return ImageState(image, self.defaults, self.work_pixels)

    def round(self, image: np.ndarray, state: ImageState, given) -> Matte:
        prompts = given.all_prompts
        mask, prob = self.capture(state, prompts, given)
        height, width = image.shape[:2]
        up = (width, height)
        prob = cv2.resize(prob, up, interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask.astype(np.uint8), up, interpolation=cv2.INTER_NEAREST) > 0
        # The glance: the segmenter's soft map where it agrees with the captured mask, a hard label elsewhere.
        glance = np.where(mask == (prob > 0.5), prob, mask.astype(np.float32))
        trimap = trimap_from_probability(glance)
        positive, negative = label_masks(prompts, (height, width))
        trimap[positive], trimap[negative] = 255, 0
        alpha = solve_focus(image, trimap, self.focus_pixels)
        return Matte(alpha=alpha, foreground=estimate_foreground(image, alpha, self.focus_pixels))

    def capture(self, state: ImageState, prompts, given) -> tuple[np.ndarray, np.ndarray]:
        """The instance mask (bool, working size) and the prior probability behind it."""
        work = state.work
        shape = work.shape[:2]
        boxes = [p for p in prompts if isinstance(p, Box)]
        box = _work_box(boxes[-1], state.scale, shape) if boxes else None
        crop = _expand(box, shape, BOX_MARGIN) if box else None
        prob = state.probability(crop)
        positive, negative = label_masks(prompts, shape, state.scale)
        prior = _touched(prob > 0.5, positive)
        labels = np.where(prior, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
        if given.previous is not None:
            previous = cv2.resize(given.previous, shape[::-1], interpolation=cv2.INTER_AREA) > 0.5
            silent = (prob > 0.05) & (prob < 0.95)
            labels[silent] = np.where(previous[silent], cv2.GC_PR_FGD, cv2.GC_PR_BGD)
        if box is not None:
            outside = np.ones(shape, bool)
            outside[box[1]:box[3], box[0]:box[2]] = False
            labels[outside] = cv2.GC_BGD
        if given.conflict is not None and given.conflict.any():
            conflict = cv2.resize(given.conflict, shape[::-1], interpolation=cv2.INTER_NEAREST)
            labels[conflict == WANTS_FOREGROUND] = cv2.GC_FGD
            labels[conflict == WANTS_BACKGROUND] = cv2.GC_BGD
        labels[positive], labels[negative] = cv2.GC_FGD, cv2.GC_BGD
        if (labels == cv2.GC_PR_FGD).any() or (labels == cv2.GC_FGD).any():
            if self.grabcut_iterations and _has_both(labels):
                background, foreground = np.zeros((1, 65)), np.zeros((1, 65))
                cv2.setRNGSeed(0)  # GrabCut's k-means draws from OpenCV's global generator: same prompts, same matte
                cv2.grabCut(work, labels, None, background, foreground, self.grabcut_iterations,
                            cv2.GC_INIT_WITH_MASK)
        mask = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        return _touched(mask, positive), prob


def _has_both(labels: np.ndarray) -> bool:
    fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    return bool(fg.any() and (~fg).any())


def _touched(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The connected regions of ``mask`` that ``seeds`` touch, plus the seeds; all of ``mask`` without seeds."""
    if not seeds.any():
        return mask
    count, regions = cv2.connectedComponents((mask | seeds).astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(regions[seeds])] = True
    keep[0] = False
    return keep[regions]


def _work_box(box: Box, scale: float, shape) -> tuple[int, int, int, int]:
    height, width = shape
    x0, y0 = max(0, int(box.x0 * scale)), max(0, int(box.y0 * scale))
    x1, y1 = min(width, int(np.ceil(box.x1 * scale)) + 1), min(height, int(np.ceil(box.y1 * scale)) + 1)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def _expand(box, shape, margin: float) -> tuple[int, int, int, int]:
    height, width = shape
    x0, y0, x1, y1 = box
    dx, dy = round((x1 - x0) * margin), round((y1 - y0) * margin)
    return max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy)
