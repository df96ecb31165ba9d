"""The offline interactive engine: DFIMat's decoupling (semantic capture, then refinement) from offline parts.

DFIMat (Jiao et al., ACCV 2024, arXiv 2410.09788, §3) splits interactive matting into finding the instance the
person means and refining its matte. Without trained DFIMat weights, this engine builds both from what ships:

- semantic capture (``mattekit.engines.capture``, at a working resolution), from the default engine's segmenters
  (MODNet, U²-Netp; the trusted one's map is the *prior*, cached per image and per box crop in the session's state;
  U²-Netp runs only when MODNet's map is unsure or a click asks for the other map):
  round 1 (or any round with a new box): a box gives the prior inside it, cut from the people entering it by a
  GrabCut on the box (the prior of those crossing its sides split off first, ``capture.crossing_part``);
  positive clicks and scribbles give the instances of the prior they touch, one person separated from the others
  of a merged group (``capture.person_cut``) when the prior is MODNet's (people), and a click on a person that
  MODNet missed the region U²-Netp finds there less MODNet's (the other people);
  text picks one of ``candidates(state)``; prompts the prior cannot explain are then handled as corrections.
  Later rounds: the previous round's captured mask is kept and changed only where the conflict map (DFIMat's
  M_ref, §3.2) asks, each conflict blob growing into the wrong region it sits in (``capture.correct``);
- refinement: a trimap around that mask (``refinement_trimap``: the segmenter's unsure pixels widen it where it
  agrees with the mask, and where it does not the band covers the cut's edge error; click and scribble pixels are
  known), solved by mattekit's focus (``mattekit.matting.focus``), foreground
  colours as the default engine. A later round solves again only windows around the pixels whose trimap label
  changed (``changed_windows``), the session's state remembering the last rounds' trimaps and mattes.

Example:
    >>> from mattekit.interactive import Box, Session                      # doctest: +SKIP
    >>> Session("people.jpg", "interactive").round([Box(40, 10, 300, 470)]).alpha.shape   # doctest: +SKIP
    (480, 640)
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from mattekit.engines import capture
from mattekit.engines.default import DefaultEngine, choose_glance, unsure_ratio
from mattekit.interactive.conflict import WANTS_BACKGROUND, WANTS_FOREGROUND
from mattekit.interactive import text
from mattekit.interactive.prompts import Box, Click, Scribble, Text, label_masks, rasterise
from mattekit.interactive.text import Candidate
from mattekit.matte import Matte
from mattekit.matting.focus import solve_focus
from mattekit.matting.foreground import estimate_foreground
from mattekit.matting.trimap import disk, trimap_from_probability

KINDS = {"modnet": "person", "u2netp": "object"}  # what the trusted segmenter finds
REFINE_MARGIN = 32  # pixels: a later round solves the changed window with twice this margin and keeps this much less
REFINE_SHARE = 0.5  # a changed window larger than this share of the image is solved whole
REMEMBERED = 4  # rounds whose trimap and matte a session keeps for the next round
EDGE_ERROR = 4  # working pixels: the refinement band's reach on each side of a mask edge that leaves the prior
# MODNet is trusted without running U²-Netp when its unsure ratio (``unsure_ratio``) is below this: U²-Netp would
# then need a ratio below 0.8 times it (``choose_glance``), sharper than any map it gave on the tuning sets (0.082)
SURE_MODNET = 0.1


class ImageState:
    """The per-image work of a session: a working copy, the segmenters' maps (whole image or per box crop) and
    the instance candidates, each computed once when first needed."""

    def __init__(self, image: np.ndarray, segmenters: DefaultEngine, work_pixels: int):
        self.image = image
        height, width = image.shape[:2]
        self.scale = min(1.0, (work_pixels / (height * width)) ** 0.5)
        size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self.work = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if self.scale < 1 else image
        self.segmenters = segmenters
        self._maps: dict[tuple, dict[str, np.ndarray]] = {}  # per crop: each segmenter's map run so far
        self._trusted: dict[tuple, str] = {}  # per crop: the segmenter trusted there
        self._candidates: list[Candidate] | None = None
        self._mattes: list[tuple] = []  # the last rounds' trimaps, mattes and captured masks, newest last

    def remember(self, trimap: np.ndarray, matte: Matte, mask: np.ndarray) -> None:
        """Keep a round's trimap, matte and captured mask (the last ``REMEMBERED``) for a later round that starts
        from it."""
        self._mattes = [*self._mattes, (trimap, matte, mask)][-REMEMBERED:]

    def matte_after(self, previous: np.ndarray | None) -> tuple[np.ndarray, Matte] | None:
        """The trimap and matte of the round whose alpha is ``previous`` (the same array, else an equal one), if
        remembered."""
        kept = self._kept(previous)
        return None if kept is None else kept[:2]

    def mask_after(self, previous: np.ndarray | None) -> np.ndarray | None:
        """The captured mask (working size) of the round whose alpha is ``previous``, if remembered."""
        kept = self._kept(previous)
        return None if kept is None else kept[2]

    def _kept(self, previous: np.ndarray | None) -> tuple | None:
        """What ``remember`` kept of the round whose alpha is ``previous`` (the same array, else an equal one)."""
        if previous is None:
            return None
        same = [kept for kept in reversed(self._mattes) if kept[1].alpha is previous]
        equal = (kept for kept in reversed(self._mattes) if np.array_equal(kept[1].alpha, previous))
        return same[0] if same else next(equal, None)

    @property
    def shape(self) -> tuple[int, int]:
        return self.work.shape[:2]

    def probability(self, box: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, str]:
        """The trusted foreground probability (float32, working size) of the whole image, or of the working
        image's crop ``box`` (x0, y0, x1, y1, ends exclusive) placed on a zero canvas, and its kind."""
        key = self._key(box)
        name = self._trust(key)
        return self._map(key, name), KINDS[name]

    def alternative(self, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The other segmenter's probability, the one ``probability`` did not trust (run when first asked for)."""
        key = self._key(box)
        return self._map(key, "u2netp" if self._trust(key) == "modnet" else "modnet")

    def _key(self, box) -> tuple[int, int, int, int]:
        height, width = self.shape
        return box or (0, 0, width, height)

    def _trust(self, key) -> str:
        """The segmenter to trust on crop ``key``: MODNet alone when its map is sure (``SURE_MODNET``), else as
        ``choose_glance`` decides between the two."""
        if key not in self._trusted:
            modnet = self._map(key, "modnet")
            sure = unsure_ratio(modnet) < SURE_MODNET
            self._trusted[key] = "modnet" if sure else choose_glance(modnet, self._map(key, "u2netp"))
        return self._trusted[key]

    def _map(self, key, name: str) -> np.ndarray:
        """Segmenter ``name``'s map of crop ``key`` on a zero canvas of the working size, run once."""
        maps = self._maps.setdefault(key, {})
        if name not in maps:
            x0, y0, x1, y1 = key
            maps[name] = np.zeros(self.shape, np.float32)
            maps[name][y0:y1, x0:x1] = getattr(self.segmenters, name).probability(
                np.ascontiguousarray(self.work[y0:y1, x0:x1]))
        return maps[name]

    def work_box(self, box: Box) -> tuple[int, int, int, int]:
        """``box`` (corners included, image pixels) at the working size, ends exclusive."""
        height, width = self.shape
        x0, y0 = max(0, int(box.x0 * self.scale)), max(0, int(box.y0 * self.scale))
        x1 = min(width, int(np.ceil(box.x1 * self.scale)) + 1)
        y1 = min(height, int(np.ceil(box.y1 * self.scale)) + 1)
        return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def candidates(state: ImageState) -> list[Candidate]:
    """The person or object instances of the image (largest first), for a text prompt or a user interface to
    choose from: ``box`` in image pixels (x0, y0, x1, y1, ends exclusive), ``area`` in image pixels, ``mask`` at
    the state's working size (``state.shape``). Computed once per image."""
    if state._candidates is None:
        prob, kind = state.probability()
        state._candidates = [
            replace(c, box=tuple(round(v / state.scale) for v in c.box), area=c.area / state.scale**2)
            for c in capture.candidates(state.work, prob, kind)]
    return state._candidates


class InteractiveEngine:
    """Offline interactive matting; see the module docstring. ``work_pixels``: the semantic capture's working
    resolution; ``focus_pixels``: the refinement's; ``colour_pixels``: the foreground colours' (they vary
    slowly: ``mattekit.matting.foreground``)."""

    name = "interactive"

    def __init__(self, weights=None, work_pixels: int = 300_000, focus_pixels: int = 400_000,
                 colour_pixels: int = 150_000):
        self.defaults = DefaultEngine(weights=weights)
        self.work_pixels = work_pixels
        self.focus_pixels = focus_pixels
        self.colour_pixels = colour_pixels

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> Matte:
        """Automatic or trimap-based matting, as the default engine (no prompts)."""
        return self.defaults.predict(image, trimap)

    def prepare(self, image: np.ndarray) -> ImageState:
        return ImageState(image, self.defaults, self.work_pixels)

    def round(self, image: np.ndarray, state: ImageState, given) -> Matte:
        prompts = given.all_prompts
        captured, prob = self.capture(state, given)
        height, width = image.shape[:2]
        trimap = refinement_trimap(captured, prob, (height, width))
        positive, negative = label_masks(prompts, (height, width))
        trimap[positive], trimap[negative] = 255, 0
        matte = self.refine(image, trimap, state.matte_after(given.previous))
        state.remember(trimap, matte, captured)
        return matte

    def refine(self, image: np.ndarray, trimap: np.ndarray, earlier: tuple | None) -> Matte:
        """The matte for ``trimap``. With ``earlier`` (the trimap and matte of the round before), only windows
        around the pixels whose trimap label changed are solved again (``changed_windows``), each at the scale the
        whole image would be solved at, and the rest of the earlier matte is kept."""
        height, width = trimap.shape
        windows = None if earlier is None else changed_windows(trimap != earlier[0])
        if windows == []:
            return earlier[1]
        if windows is None or sum((y1 - y0) * (x1 - x0) for x0, y0, x1, y1 in windows) > REFINE_SHARE * trimap.size:
            alpha = solve_focus(image, trimap, self.focus_pixels)
            return Matte(alpha=alpha, foreground=estimate_foreground(image, alpha, self.colour_pixels))
        matte = Matte(alpha=earlier[1].alpha.copy(), foreground=earlier[1].foreground.copy())
        # Only a window's inside is kept: near its cut edges the solve lacks its neighbours.
        inners = [tuple(slice(lo + REFINE_MARGIN if lo else 0, hi - REFINE_MARGIN if hi < end else hi)
                        for lo, hi, end in ((y0, y1, height), (x0, x1, width))) for x0, y0, x1, y1 in windows]
        for (x0, y0, x1, y1), inner in zip(windows, inners):
            budget = max(1, round(self.focus_pixels * (x1 - x0) * (y1 - y0) / trimap.size))
            alpha = solve_focus(np.ascontiguousarray(image[y0:y1, x0:x1]), trimap[y0:y1, x0:x1], budget)
            matte.alpha[inner] = alpha[_within(inner, x0, y0)]
        # The colours in one pass over the windows' bounding box (each pass has a fixed cost).
        x0, y0 = min(w[0] for w in windows), min(w[1] for w in windows)
        x1, y1 = max(w[2] for w in windows), max(w[3] for w in windows)
        budget = max(1, round(self.colour_pixels * (x1 - x0) * (y1 - y0) / trimap.size))
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        foreground = estimate_foreground(crop, matte.alpha[y0:y1, x0:x1], budget)
        for inner in inners:
            matte.foreground[inner] = foreground[_within(inner, x0, y0)]
        return matte

    def capture(self, state: ImageState, given) -> tuple[np.ndarray, np.ndarray]:
        """The instance mask (bool, working size) and the prior probability behind it."""
        everything = given.all_prompts
        positive, negative = label_masks(everything, state.shape, state.scale)
        boxes = [p for p in everything if isinstance(p, Box)]
        box = state.work_box(boxes[-1]) if boxes else None
        prob, kind = state.probability(capture.expand(box, state.shape, capture.BOX_MARGIN) if box else None)
        prior = prob > 0.5
        if given.previous is None or any(isinstance(p, Box) for p in given.prompts):
            mask = self.first_mask(state, everything, box, prior, kind)
            wants_fg, wants_bg = positive & ~mask, negative & mask
        else:
            # the mask the previous round captured, so that the refinement's own errors do not pile up round
            # after round (a mask taken again from each round's alpha kept them, and corrected them as clicks came)
            kept = state.mask_after(given.previous)
            mask = kept.copy() if kept is not None else (
                cv2.resize(given.previous, state.shape[::-1], interpolation=cv2.INTER_AREA) > 0.5)
            wants_fg = _shrink(given.conflict == WANTS_FOREGROUND, state.shape)
            wants_bg = _shrink(given.conflict == WANTS_BACKGROUND, state.shape)
        people = kind == "person"
        return capture.correct(state.work, mask, wants_fg, wants_bg, positive, negative, prior, people), prob

    def first_mask(self, state: ImageState, prompts, box, prior: np.ndarray, kind: str) -> np.ndarray:
        """Round 1's mask before corrections: the box's instance, the instances positive prompts touch, the
        candidate a sentence names, or the whole prior."""
        if box is not None:
            mask = capture.box_cut(state.work, prior, box)
            strokes = [rasterise(p, state.shape, state.scale) for p in prompts
                       if isinstance(p, (Click, Scribble)) and p.positive]
            touching = capture.touched(mask, np.any(strokes, axis=0)) if strokes else mask
            return touching if touching.any() else mask
        mask = np.zeros(state.shape, bool)
        strokes = [rasterise(p, state.shape, state.scale) for p in prompts
                   if isinstance(p, (Click, Scribble)) and p.positive]
        for pixels in strokes:
            if not (pixels & prior).any():  # the trusted segmenter missed it: the other may have found it, and
                found = state.alternative() > 0.5  # of people, the trusted one's are others than the clicked one
                mask |= capture.touched(found & ~prior if kind == "person" else found, pixels)
        # the clicks on one region of the prior are one instance: cut once, from the deepest, keeping them all
        wanted = np.any(strokes, axis=0) & prior if strokes else np.zeros(state.shape, bool)
        regions = cv2.connectedComponents(prior.astype(np.uint8), connectivity=8)[1]
        for label in np.unique(regions[wanted]):
            mask |= self.instance_at(state, prior, wanted & (regions == label), kind)
        texts = [p for p in prompts if isinstance(p, Text)]
        if not mask.any() and texts:
            found = candidates(state)
            if found:
                mask = found[text.choose(texts[-1].text, found)].mask.copy()
        if not mask.any() and not any(isinstance(p, (Click, Scribble)) and p.positive for p in prompts):
            mask = prior.copy()
        return mask

    @staticmethod
    def instance_at(state: ImageState, prior: np.ndarray, pixels: np.ndarray, kind: str) -> np.ndarray:
        """The instance of the prior under ``pixels`` (one region's clicks): one person of a merged group, cut
        from the deepest of them and keeping them all, or the touched region."""
        if kind != "person":
            return capture.touched(prior, pixels)
        distance = capture.padded_distance(prior)
        point = np.unravel_index(np.argmax(np.where(pixels, distance, -1)), distance.shape)
        return capture.person_cut(state.work, prior, point, seeds=pixels)


def refinement_trimap(mask: np.ndarray, prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The refinement's trimap (uint8 0/128/255 of ``shape``) around the captured ``mask`` (bool, working size) and
    the prior ``prob``ability behind it (float32, the same size).

    The glance is the prior where it agrees with the mask (its unsure pixels widen the band, as in the default
    engine) and the mask's hard label where it does not. There the edge is a cut's at the working size or coarser
    (a correction's), so the band reaches ``EDGE_ERROR`` working pixels to each side of it.

    >>> prob = np.zeros((40, 40), np.float32); prob[10:30, 10:30] = 1
    >>> mask = prob > 0.5; mask[10:30, 30:35] = True          # the mask leaves the prior on the right
    >>> trimap = refinement_trimap(mask, prob, (120, 120))
    >>> [int(v) for v in trimap[60, [1, 27, 28, 100, 116, 117]]]   # the left edge at 30, the right one at 105
    [0, 0, 128, 128, 128, 0]
    """
    height, width = shape
    disagree = mask != (prob > 0.5)
    radius, solid = disk(EDGE_ERROR), mask.astype(np.uint8)
    edge = cv2.dilate(solid, radius) != cv2.erode(solid, radius)
    doubt = edge & (cv2.dilate(disagree.astype(np.uint8), radius) > 0)
    up = (width, height)
    prob = cv2.resize(prob, up, interpolation=cv2.INTER_LINEAR)
    mask = cv2.resize(solid, up, interpolation=cv2.INTER_NEAREST) > 0
    doubt = cv2.resize(doubt.astype(np.uint8), up, interpolation=cv2.INTER_NEAREST) > 0
    glance = np.where(mask == (prob > 0.5), prob, mask.astype(np.float32))
    return trimap_from_probability(glance, doubt=doubt)


def changed_windows(changed: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Windows (x0, y0, x1, y1, ends exclusive) that cover the ``changed`` pixels with a margin of twice
    ``REFINE_MARGIN``: one per group of changes closer than that margin to each other.

    >>> changed = np.zeros((400, 400), bool); changed[10, 10] = changed[300, 350] = True
    >>> changed_windows(changed)
    [(0, 0, 75, 75), (286, 236, 400, 365)]
    """
    if not changed.any():
        return []
    near = cv2.dilate(changed.astype(np.uint8), np.ones((2 * REFINE_MARGIN + 1,) * 2, np.uint8))
    stats = cv2.connectedComponentsWithStats(near, connectivity=8)[2][1:].tolist()
    height, width = changed.shape
    grow = REFINE_MARGIN  # beyond the dilation's margin
    return [(max(0, x - grow), max(0, y - grow), min(width, x + w + grow), min(height, y + h + grow))
            for x, y, w, h, _ in stats]


def _within(part: tuple[slice, slice], x0: int, y0: int) -> tuple[slice, slice]:
    """The (rows, columns) slices ``part`` of an image, relative to its crop that starts at (``x0``, ``y0``)."""
    return slice(part[0].start - y0, part[0].stop - y0), slice(part[1].start - x0, part[1].stop - x0)


def _shrink(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A full-size bool mask at the working ``shape``: a pixel is set if any part of it was."""
    if mask.shape == shape:
        return mask
    return cv2.resize(mask.astype(np.float32), shape[::-1], interpolation=cv2.INTER_AREA) > 0
