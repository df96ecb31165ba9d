"""Semantic capture for the offline interactive engine: which pixels belong to the instance the person means.

DFIMat's ISCN (Jiao et al., "DFIMat: Decoupled Flexible Interactive Matting in Multi-Person Scenarios", ACCV 2024,
arXiv 2410.09788, §3.2) predicts the meant instance's mask from the image and the prompts, and, across rounds,
reasons on the conflict map. Without its trained weights, this module builds the same step from a segmenter's
foreground map (``prior``, bool at the working size: every person or salient object at once) and graph cuts
(OpenCV GrabCut: Rother, Kolmogorov and Blake, "GrabCut", SIGGRAPH 2004):

- ``box_cut``: a box keeps the prior inside itself; GrabCut on the box with a margin, so that its colour models
  are local and the parts of other people that enter the box from outside it are learnt as background; the parts
  of the prior that a watershed floods from where the prior crosses the box's sides (``crossing_part``: a tight
  box touches its own instance, others run on beyond it) start as background;
- ``person_cut``: a click on a merged group of people: the other people's torsos (thick parts of the prior, its
  distance-transform maxima far from the click) become background seeds, the click's vertical band (where a person
  standing at the click would be) probable foreground, and GrabCut separates them along colour edges;
- ``correct``: a later round's conflict regions (DFIMat's M_ref) change the previous mask locally: each conflict
  blob is grown into the region it sits in by GrabCut in a window around it (the previous mask as the probable
  labels, every prompt as a hard label; a window over ``CORRECTION_PIXELS`` is cut downscaled, so a round's cost
  is bounded), and only the changed region that contains the blob is taken, the rest of the previous mask kept (as
  FocalClick's progressive merge, Chen et al., CVPR 2022, arXiv 2204.02574);
- ``candidates``: the instances a sentence or a click can mean, with box, mask, kind, area and score.

Example:
    >>> import numpy as np
    >>> image = np.zeros((60, 80, 3), np.uint8); image[10:50, 20:40] = 200; image[10:50, 45:70] = (30, 200, 30)
    >>> prior = image.sum(axis=2) > 0
    >>> mask = box_cut(image, prior, (18, 8, 42, 52))
    >>> bool(mask[30, 30]), bool(mask[30, 60])
    (True, False)
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.feature import peak_local_max

from mattekit.interactive.simulate import padded_distance
from mattekit.interactive.text import Candidate

BOX_MARGIN = 0.1  # share of the box's size added on each side for GrabCut's colour models
GRABCUT_ITERATIONS = 2
CORRECTION_PIXELS = 40_000  # a correction's GrabCut window larger than this (working pixels) is cut downscaled
OTHER_PEAK = 0.5  # another torso: a distance-transform maximum at least this share of the clicked one's ...
OTHER_DISTANCE = 2.0  # ... and further than this many times the clicked one's distance value from the click
BAND_WIDTH = 1.5  # half-width of the clicked person's vertical band, in the click's distance values
BAND_ABOVE = 6.0  # how far above the click the band starts (the head), in the same unit
MIN_PERSON = 0.1  # a separated person smaller than this share of its group is a failed cut: the group is kept
MIN_PERSON_LEFT = 0.9  # a negative click removes its person only if it is less than this share of the mask
WINDOW = 3.0  # a correction window's half-size, in the conflict blob's distance to the previous mask's edge
MIN_WINDOW = 12  # pixels
CROSS = 0.03  # the prior running on this share of a box's size beyond a side: someone crosses it ...
MAX_CROSSING = 0.5  # ... unless they would take more than this share of the prior inside the box (a failed split)
PERSON_DEPTH = 0.5  # a negative click removes a whole person only at this share of its region's deepest point
MODEL_PIXELS = 10_000  # a correction's GrabCut learns its colours from at least this many pixels
OBJECT_REACH = (0.25, 0.5, 0.75)  # an object cut's probable foreground: these shares of a click's room
OBJECT_ITERATIONS = 5  # GrabCut iterations of an object cut
EDGE_THRESHOLDS = (50, 150)  # Canny's: a correction's hard seed stops at the nearest edge of the image


def touched(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The connected regions of ``mask`` that ``seeds`` touch (8-connected)."""
    count, regions = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(regions[seeds & mask])] = True
    keep[0] = False
    return keep[regions]


def grabcut(image: np.ndarray, labels: np.ndarray, window=None, iterations: int = GRABCUT_ITERATIONS,
            max_pixels: int | None = None) -> np.ndarray:
    """Foreground (bool) of GrabCut on ``labels`` (cv2.GC_* values), run on the ``window`` (x0, y0, x1, y1) only
    (labels outside it kept); the labels as they are when they hold only one side. A window of more than
    ``max_pixels`` is cut downscaled (``shrink_labels``), the cut upsampled and the hard labels put back."""
    x0, y0, x1, y1 = window or (0, 0, labels.shape[1], labels.shape[0])
    crop = np.ascontiguousarray(labels[y0:y1, x0:x1])
    cut = (crop == cv2.GC_FGD) | (crop == cv2.GC_PR_FGD)
    if cut.any() and not cut.all():
        scale = min(1.0, ((max_pixels or crop.size) / crop.size) ** 0.5)
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        small = shrink_labels(crop, size) if scale < 1 else crop.copy()
        colours = image[y0:y1, x0:x1]
        colours = cv2.resize(colours, size, interpolation=cv2.INTER_AREA) if scale < 1 else colours
        models = np.zeros((1, 65)), np.zeros((1, 65))
        cv2.setRNGSeed(0)  # GrabCut's k-means starts from OpenCV's global generator: the same cut every time
        cv2.grabCut(np.ascontiguousarray(colours), small, None, *models, iterations, cv2.GC_INIT_WITH_MASK)
        cut = ((small == cv2.GC_FGD) | (small == cv2.GC_PR_FGD)).astype(np.float32)
        if scale < 1:
            cut = cv2.resize(cut, crop.shape[::-1], interpolation=cv2.INTER_LINEAR)
        cut = ((cut > 0.5) | (crop == cv2.GC_FGD)) & (crop != cv2.GC_BGD)
    result = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    result[y0:y1, x0:x1] = cut
    return result


def shrink_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """GrabCut ``labels`` at ``size`` (W, H): a small pixel is a hard label where that label covers at least half
    of it or most of it nearby (so a thin stroke keeps a pixel), else probable foreground where the foreground
    labels cover at least half of it.

    >>> labels = np.full((8, 8), cv2.GC_PR_BGD, np.uint8); labels[:, 4:] = cv2.GC_PR_FGD; labels[1, 1] = cv2.GC_FGD
    >>> shrink_labels(labels, (4, 4)).tolist()[0]
    [1, 2, 3, 3]
    """
    def share(*values) -> np.ndarray:
        return cv2.resize(np.isin(labels, values).astype(np.float32), size, interpolation=cv2.INTER_AREA)

    foreground = share(cv2.GC_FGD, cv2.GC_PR_FGD)
    small = np.where(foreground >= 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    for value in (cv2.GC_BGD, cv2.GC_FGD):  # foreground last: a click wins over the background around it
        part = share(value)
        small[(part >= 0.5) | ((part > 0) & (part >= cv2.dilate(part, np.ones((3, 3), np.uint8))))] = value
    return small


def expand(box, shape, margin: float) -> tuple[int, int, int, int]:
    """``box`` (x0, y0, x1, y1) grown by ``margin`` times its size on each side, clipped to ``shape``."""
    height, width = shape[:2]
    x0, y0, x1, y1 = box
    dx, dy = round((x1 - x0) * margin), round((y1 - y0) * margin)
    return max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy)


def box_cut(image: np.ndarray, prior: np.ndarray, box) -> np.ndarray:
    """The instance inside ``box`` (x0, y0, x1, y1, ends exclusive): the prior inside the box as probable
    foreground, everything outside it as background, GrabCut on the box with ``BOX_MARGIN``; the parts of the
    prior that belong to someone crossing the box's sides (``crossing_part``) are probable background."""
    x0, y0, x1, y1 = box
    labels = np.full(prior.shape, cv2.GC_BGD, np.uint8)
    labels[y0:y1, x0:x1] = np.where(prior[y0:y1, x0:x1], cv2.GC_PR_FGD, cv2.GC_PR_BGD)
    window = expand(box, prior.shape, BOX_MARGIN)
    labels[crossing_part(image, prior, box, window)] = cv2.GC_PR_BGD
    return grabcut(image, labels, window)


def crossing_part(image: np.ndarray, prior: np.ndarray, box, window) -> np.ndarray:
    """The pixels of the prior inside ``box`` that belong to instances crossing its sides, not to the one it
    bounds. A tight box touches its instance on every side without the instance going on beyond it; where the
    prior runs on across a side (``CROSS`` of the box's size beyond it), someone else enters the box. The prior
    is split by a marker watershed on the image's colours (Meyer, "Color image segmentation", 4th International
    Conference on Image Processing and its Applications, 1992; ``cv2.watershed``) inside the GrabCut ``window``:
    the box's own contacts (prior on a side that stops there) flood as the meant instance, the prior further than
    that beyond the sides as the others, the rest of the image as background. Empty when no side is crossed or
    none only touched (sides along the image's border do not count: a person cut by the frame touches it without
    ending there), or when the others would take more than ``MAX_CROSSING`` of the prior inside the box."""
    x0, y0, x1, y1 = box
    height, width = prior.shape
    reach = max(2, round(CROSS * max(x1 - x0, y1 - y0)))
    touching, crossed = np.zeros(prior.shape, bool), False
    sides = [(x0 > 0, (slice(y0, y1), x0), (slice(y0, y1), max(0, x0 - reach))),
             (x1 < width, (slice(y0, y1), x1 - 1), (slice(y0, y1), min(width - 1, x1 - 1 + reach))),
             (y0 > 0, (y0, slice(x0, x1)), (max(0, y0 - reach), slice(x0, x1))),
             (y1 < height, (y1 - 1, slice(x0, x1)), (min(height - 1, y1 - 1 + reach), slice(x0, x1)))]
    for inner, edge, beyond in sides:
        if inner:
            touching[edge] = prior[edge] & ~prior[beyond]
            crossed |= bool((prior[edge] & prior[beyond]).any())
    nothing = np.zeros(prior.shape, bool)
    if not crossed or not touching.any():
        return nothing
    inside, near = nothing.copy(), nothing.copy()
    inside[y0:y1, x0:x1] = True
    near[max(0, y0 - reach):y1 + reach, max(0, x0 - reach):x1 + reach] = True
    markers = np.zeros(prior.shape, np.int32)
    markers[cv2.dilate(prior.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0] = 3
    markers[prior & ~near] = 2
    markers[touching] = 1
    wx0, wy0, wx1, wy1 = window
    part = markers[wy0:wy1, wx0:wx1].copy()
    cv2.watershed(np.ascontiguousarray(image[wy0:wy1, wx0:wx1]), part)
    others = nothing.copy()
    others[wy0:wy1, wx0:wx1] = part == 2
    others &= prior & inside
    return others if others.sum() <= MAX_CROSSING * (prior & inside).sum() else nothing


def other_torsos(prior: np.ndarray, point: tuple[int, int]) -> list[tuple[int, int]]:
    """(row, column) of the prior's thick parts that belong to someone else than the one at ``point``: far from
    it, and not a thinner part above it within its band (that is its own head)."""
    distance = padded_distance(prior)
    own = distance[point]
    peaks = peak_local_max(distance, min_distance=max(2, round(own / 2)), threshold_abs=OTHER_PEAK * own,
                           exclude_border=False)
    return [tuple(p) for p in peaks if np.hypot(p[0] - point[0], p[1] - point[1]) > OTHER_DISTANCE * own
            and not (p[0] < point[0] and abs(p[1] - point[1]) < BAND_WIDTH * own and distance[tuple(p)] < own)]


def person_cut(image: np.ndarray, prior: np.ndarray, point: tuple[int, int], max_pixels: int | None = None,
               seeds: np.ndarray | None = None) -> np.ndarray:
    """The one instance of the prior at ``point`` (row, column), separated from the others it touches (GrabCut
    downscaled past ``max_pixels``, as ``grabcut``); ``seeds``: more pixels of that person (the person's other
    clicks), hard foreground labels kept in the cut."""
    region = touched(prior, _dot(prior.shape, point))
    others = other_torsos(region, point)
    if not others:
        return region
    distance = padded_distance(region)
    own = float(distance[point])
    rows, columns = np.indices(prior.shape)
    band = (np.abs(columns - point[1]) < BAND_WIDTH * own) & (rows > point[0] - BAND_ABOVE * own)
    labels = np.full(prior.shape, cv2.GC_BGD, np.uint8)
    labels[region] = cv2.GC_PR_BGD
    labels[region & band] = cv2.GC_PR_FGD
    for row, column in others:
        cv2.circle(labels, (int(column), int(row)), max(2, round(distance[row, column] / 2)), cv2.GC_BGD, -1)
    cv2.circle(labels, (int(point[1]), int(point[0])), max(2, round(own / 2)), cv2.GC_FGD, -1)
    if seeds is not None:
        labels[seeds & region] = cv2.GC_FGD
    mask = touched(grabcut(image, labels, bounds(region), 3, max_pixels), _dot(prior.shape, point))
    return mask if mask.sum() >= MIN_PERSON * region.sum() else region


def correct(image: np.ndarray, mask: np.ndarray, conflict_fg: np.ndarray, conflict_bg: np.ndarray,
            positive: np.ndarray, negative: np.ndarray, prior: np.ndarray, people: bool = False) -> np.ndarray:
    """The previous ``mask`` changed where the conflict map asks: each blob of ``conflict_fg`` (wants foreground)
    adds the region around it, each blob of ``conflict_bg`` removes one. ``positive``/``negative``: every prompt's
    pixels (hard labels); ``prior``: the segmenter's foreground, whose region under a blob is taken as it is when
    it agrees with the blob's side; with ``people``, a blob that wants background on one person of the prior
    removes that person (``person_cut``) when others stay."""
    mask = mask.copy()
    for blobs, wanted in ((conflict_fg, True), (conflict_bg, False)):
        count, regions = cv2.connectedComponents(blobs.astype(np.uint8), connectivity=8)
        for label in range(1, count):
            blob = regions == label
            if mask[blob].all() == wanted and mask[blob].any() == wanted:
                continue  # an earlier blob's region already covers it
            region = _flip_region(image, mask, blob, wanted, positive, negative, prior, people)
            mask[region] = wanted
    mask[positive], mask[negative] = True, False
    return mask


def _flip_region(image, mask, blob, wanted: bool, positive, negative, prior, people: bool) -> np.ndarray:
    """The region around ``blob`` whose label becomes ``wanted``, within a window around the blob."""
    side = ~mask if wanted else mask  # the wrong region the blob sits in
    reach = float(padded_distance(side)[blob].max())
    rows, columns = np.nonzero(blob)
    half = max(MIN_WINDOW, round(WINDOW * reach))
    x0, y0 = max(0, columns.min() - half), max(0, rows.min() - half)
    x1, y1 = min(mask.shape[1], columns.max() + 1 + half), min(mask.shape[0], rows.max() + 1 + half)
    window = (x0, y0, x1, y1)
    if wanted and not mask.any():
        return object_cut(image, positive, negative) | blob
    part = touched(mask, blob)
    if not wanted and not (part & positive).any() and (mask & ~part & positive).any():
        return part  # a part of the mask apart from every part the positive prompts hold
    # the prior's region under the blob, when the prior agrees with the blob's side there and the region ends
    # inside the window (a region cut by the window says only that the prior disagrees with the mask everywhere)
    agreeing = touched((prior if wanted else ~prior) & side, blob)
    said = prior[y0:y1, x0:x1].any()  # a prior with nothing in the window says nothing there
    if said and agreeing.any() and _inside(agreeing, window, mask.shape):
        return agreeing | blob
    distance = padded_distance(prior) if people and not wanted and (blob & prior).any() else None
    point = None if distance is None else np.unravel_index(np.argmax(np.where(blob & prior, distance, -1)),
                                                            distance.shape)
    if point is not None and distance[point] >= PERSON_DEPTH * distance[touched(prior, blob)].max():
        person = person_cut(image, prior, point, CORRECTION_PIXELS) & mask
        if person.sum() < MIN_PERSON_LEFT * mask.sum():
            return person | blob
    inside = np.zeros(mask.shape, bool)
    inside[y0:y1, x0:x1] = True
    labels = np.where(mask, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    if said:  # the prior's region that reaches past the window is still the probable side within it
        labels[agreeing & inside] = cv2.GC_PR_FGD if wanted else cv2.GC_PR_BGD
    labels[positive], labels[negative] = cv2.GC_FGD, cv2.GC_BGD
    # around the blob, its side is probable as far as half its distance to the mask's edge, certain only up to
    # the nearest colour edge
    near = cv2.dilate(blob.astype(np.uint8), _disk(max(1, round(reach / 2)))) > 0
    labels[near & side] = cv2.GC_PR_FGD if wanted else cv2.GC_PR_BGD
    radius = min(reach / 2, _edge_distance(image, blob, window))
    seed = cv2.dilate(blob.astype(np.uint8), _disk(max(1, round(radius)))) > 0
    labels[seed & side] = cv2.GC_FGD if wanted else cv2.GC_BGD
    # the colour models learn from at least MODEL_PIXELS around the window, whose labels outside it stay fixed
    context = _context(window, mask.shape, MODEL_PIXELS)
    labels[~inside & (labels == cv2.GC_PR_FGD)], labels[~inside & (labels == cv2.GC_PR_BGD)] = cv2.GC_FGD, cv2.GC_BGD
    changed = (grabcut(image, labels, context, max_pixels=CORRECTION_PIXELS) == wanted) & side & inside
    return touched(changed | blob, blob)


def object_cut(image: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """The object that the ``positive`` pixels mark when nothing is masked yet (the segmenters missed it):
    GrabCut on the whole image (downscaled to ``CORRECTION_PIXELS``), probable foreground in a disk around each
    positive prompt, probable background elsewhere, the positive pixels hard foreground and the negative ones hard
    background; the connected parts that hold a positive pixel. The disks' radius is a share of each prompt's
    distance to the image's border (``OBJECT_REACH``, the smallest first): a cut that keeps less than half of its
    disks says their colours were not the object's, and the next share is tried."""
    count, blobs = cv2.connectedComponents(positive.astype(np.uint8), connectivity=8)
    room = padded_distance(np.ones(positive.shape, bool))
    for share in OBJECT_REACH:
        labels = np.full(positive.shape, cv2.GC_PR_BGD, np.uint8)
        for label in range(1, count):
            blob = blobs == label
            radius = max(1, round(share * float(room[blob].max())))
            labels[cv2.dilate(blob.astype(np.uint8), _disk(radius)) > 0] = cv2.GC_PR_FGD
        labels[negative], labels[positive] = cv2.GC_BGD, cv2.GC_FGD
        disks = labels != cv2.GC_PR_BGD
        cut = touched(grabcut(image, labels, None, OBJECT_ITERATIONS, CORRECTION_PIXELS), positive)
        if (cut & disks).sum() >= 0.5 * disks.sum():
            break
    return cut


def _context(window, shape, pixels: int) -> tuple[int, int, int, int]:
    """``window`` (x0, y0, x1, y1) grown evenly on each side until it holds ``pixels`` (clipped to ``shape``).

    >>> _context((40, 40, 50, 50), (100, 100), 400)
    (35, 35, 55, 55)
    """
    x0, y0, x1, y1 = window
    width, height = x1 - x0, y1 - y0
    grow = max(0, int(np.ceil((-(width + height) + np.sqrt((width - height) ** 2 + 4 * pixels)) / 4)))
    return max(0, x0 - grow), max(0, y0 - grow), min(shape[1], x1 + grow), min(shape[0], y1 + grow)


def _inside(region: np.ndarray, window, shape) -> bool:
    """Whether ``region`` lies in ``window`` (x0, y0, x1, y1) without touching a side of it that is not the
    image's border."""
    x0, y0, x1, y1 = window
    rx0, ry0, rx1, ry1 = bounds(region)
    return ((rx0 > x0 or x0 == 0) and (ry0 > y0 or y0 == 0) and (rx1 < x1 or x1 == shape[1])
            and (ry1 < y1 or y1 == shape[0]))


def _edge_distance(image: np.ndarray, blob: np.ndarray, window) -> float:
    """How far the colour around ``blob`` stays even: the distance from the blob's centre to the nearest
    Canny edge of the ``window`` (x0, y0, x1, y1) of ``image``."""
    x0, y0, x1, y1 = window
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, *EDGE_THRESHOLDS)
    far = cv2.distanceTransform((edges == 0).astype(np.uint8), cv2.DIST_L2, 3)
    rows, columns = np.nonzero(blob[y0:y1, x0:x1])
    return float(far[round(rows.mean()), round(columns.mean())])


def candidates(image: np.ndarray, prob: np.ndarray, kind: str, min_share: float = 0.005) -> list[Candidate]:
    """The instances of a segmenter's map ``prob`` (float, working size): each connected region of prob > 0.5
    of at least ``min_share`` of the image, split into one candidate per person (``person_cut`` at each thick
    part) when ``kind`` is "person"; largest first. Boxes (ends exclusive), areas and masks at the working size;
    the score is the mean of ``prob`` inside."""
    prior = prob > 0.5
    count, regions, stats, _ = cv2.connectedComponentsWithStats(prior.astype(np.uint8), connectivity=8)
    found = []
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < min_share * prior.size:
            continue
        region = regions == label
        masks = [region]
        if kind == "person":
            distance = padded_distance(region)
            centre = np.unravel_index(np.argmax(distance), distance.shape)
            masks = [person_cut(image, region, p) for p in [centre, *other_torsos(region, centre)]]
        for mask in masks:
            if mask.any():
                found.append(Candidate(bounds(mask), kind, float(mask.sum()), float(prob[mask].mean()), mask))
    return sorted(found, key=lambda c: -c.area)


def _dot(shape, point) -> np.ndarray:
    dot = np.zeros(shape[:2], bool)
    dot[point] = True
    return dot


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the set pixels of ``mask``, ends exclusive."""
    rows, columns = np.nonzero(mask)
    return int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1
