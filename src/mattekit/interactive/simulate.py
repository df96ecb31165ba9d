"""Simulated users: DFIMat's rounds of clicks, scribbles, boxes and words, and RITM's click protocol, seeded.

DFIMat (Jiao et al., "DFIMat: Decoupled Flexible Interactive Matting in Multi-Person Scenarios", ACCV 2024,
arXiv 2410.09788, §5.1) plays 5 rounds; each adds 3 clicks or 2 scribbles; the first round is drawn at random
from the ground truth, the same for every method on the same image; later rounds go into the "most significant
area" of the previous prediction against the ground truth (defined only in its supplement, which we could not
read); a box or a sentence is one round from the ground truth; mixed input is a sentence with one visual prompt
type in round 1 and clicks or scribbles chosen at random in rounds 2-5. Where the paper is silent we choose:

- Foreground is alpha > 0.5 for both the ground truth and the prediction (``mattekit.evaluation.interactive``).
- Error regions: the 8-connected regions of the false negatives (GT foreground, predicted background; a positive
  prompt) and of the false positives (a negative prompt), ranked by area, largest first (ScribblePrompt's
  component-centre click, Wong et al., ECCV 2024, arXiv 2312.07381). A click goes to the maximum of the region's
  padded distance transform (exact L2, one pixel of background padding around the image, so the image border
  counts as region border; RITM, Sofiiuk et al., ICIP 2022, arXiv 2102.06583, §4), the first such pixel in row
  order. When there are fewer regions than prompts, a disk (radius: the distance at the chosen pixel, at least
  the click radius) around each chosen pixel is suppressed and the next maximum of the error distance transform
  is taken, as long as errors remain.
- A scribble follows the region's skeleton (``skimage.morphology.skeletonize`` of the region eroded by half the
  stroke width, so the drawn stroke stays inside; the region itself when the erosion leaves nothing): from the
  skeleton pixel nearest the chosen pixel it walks the skeleton both ways, keeping its direction where the
  skeleton branches, at most ``sqrt(area) / 2`` pixels each way, and every ``SCRIBBLE_STEP``-th pixel of the
  walk is a point of the polyline, in order. Deterministic for correction rounds.
- Round 1 of ``click``: 3 positive clicks drawn uniformly among the ground truth pixels at least half the
  maximum distance from its border; of ``scribble``: 2 positive skeleton strokes of the ground truth starting at
  skeleton pixels drawn at random (the second avoids the first's pixels).
- ``box``: the box of alpha > 0.5, each side pushed outward by a random 0..``box_jitter`` pixels (0 by default);
  ``text``: the dataset's sentence for the instance.
- ``mixed``: round 1 = the sentence plus one visual prompt type drawn among click, scribble and box, in the
  quantity of that type's round (3 clicks, 2 scribbles, 1 box); rounds 2-5 each draw click or scribble.
- ``ritm``: RITM's evaluation exactly: one click per round at the global maximum of the padded distance
  transforms of the false negatives and false positives, excluding only pixels already clicked; positive when
  the false-negative maximum is larger (a tie is negative); up to 20 clicks, stopping once IoU ≥ 0.90.
- A round in which the prediction has no error left gives no prompts, and the play stops there.

Random draws use a generator seeded by (seed, CRC-32 of the image name, instance, round), so every engine gets
the same first round on the same image, whatever ran before.

Example:
    >>> import numpy as np
    >>> gt = np.zeros((40, 60), np.float32); gt[5:35, 10:30] = 1
    >>> user = SimulatedUser("click", seed=0)
    >>> [type(p).__name__ for p in user.first_round(gt, "toy")]
    ['Click', 'Click', 'Click']
    >>> pred = np.zeros_like(gt); pred[5:35, 10:22] = 1; pred[0:5, 40:60] = 1
    >>> [(p.x, p.y, p.positive) for p in user.next_round(gt, pred, 1, "toy")][:2]
    [(25.0, 8.0, True), (42.0, 2.0, False)]
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.morphology import skeletonize

from mattekit.errors import InputError, UsageError
from mattekit.evaluation.interactive import BINARY_THRESHOLD, MAX_CLICKS, iou
from mattekit.interactive.prompts import CLICK_RADIUS, SCRIBBLE_WIDTH, Box, Click, Scribble, Text

KINDS = ("click", "scribble", "box", "text", "mixed", "ritm")
ROUNDS = 5
CLICKS_PER_ROUND = 3
SCRIBBLES_PER_ROUND = 2
RITM_TARGET_IOU = 0.90
SCRIBBLE_STEP = 4  # pixels of skeleton between two points of a scribble's polyline
CORE = 0.5  # first-round clicks lie at least this share of the maximum distance from the border


def foreground(alpha: np.ndarray) -> np.ndarray:
    """alpha > 0.5 as bool (uint8 alphas read as k/255)."""
    alpha = np.asarray(alpha)
    return (alpha / 255.0 if alpha.dtype == np.uint8 else alpha) > BINARY_THRESHOLD


def padded_distance(mask: np.ndarray) -> np.ndarray:
    """Exact L2 distance of every ``mask`` pixel to the nearest pixel outside it, the image border counting as
    outside (RITM's one-pixel zero padding); float32, 0 off the mask.

    >>> padded_distance(np.ones((1, 3), bool)).tolist()
    [[1.0, 1.0, 1.0]]
    """
    padded = np.pad(mask.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def _first_max(values: np.ndarray) -> tuple[int, int]:
    """(row, column) of the first maximum in row order."""
    return divmod(int(np.argmax(values)), values.shape[1])


def ritm_click(gt: np.ndarray, alpha: np.ndarray, clicked: np.ndarray | None = None) -> Click | None:
    """RITM's next click (interactive-notes §2.1) for the prediction ``alpha`` against ``gt``; ``clicked`` (bool
    HxW) marks pixels clicked before, which are excluded. None when no error pixel is left to click.

    >>> gt = np.zeros((5, 7), bool); gt[1:4, 1:6] = True
    >>> ritm_click(gt, np.zeros((5, 7)))
    Click(x=2.0, y=2.0, positive=True)
    """
    gt_b, pred_b = foreground(gt), foreground(alpha)
    allowed = np.ones(gt_b.shape, bool) if clicked is None else ~clicked
    dt_fn = padded_distance(gt_b & ~pred_b) * allowed
    dt_fp = padded_distance(~gt_b & pred_b) * allowed
    positive = dt_fn.max() > dt_fp.max()
    chosen = dt_fn if positive else dt_fp
    if chosen.max() <= 0:
        return None
    y, x = _first_max(chosen)
    return Click(x, y, positive=bool(positive))


@dataclass
class Spot:
    """A chosen pixel of an error region: (``y``, ``x``), whether the region is a false negative (``positive``),
    and the region (bool mask) it lies in."""

    y: int
    x: int
    positive: bool
    region: np.ndarray = field(repr=False)


def error_regions(gt: np.ndarray, alpha: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """The 8-connected false-negative and false-positive regions as (bool mask, is false negative), largest
    area first (ties: false negatives first, then in label order)."""
    gt_b, pred_b = foreground(gt), foreground(alpha)
    regions = []
    for positive, errors in ((True, gt_b & ~pred_b), (False, ~gt_b & pred_b)):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(errors.astype(np.uint8), connectivity=8)
        regions += [(int(stats[k, cv2.CC_STAT_AREA]), not positive, k, labels, positive) for k in range(1, count)]
    regions.sort(key=lambda r: (-r[0], r[1], r[2]))
    return [(labels == k, positive) for _, _, k, labels, positive in regions]


def significant_spots(gt: np.ndarray, alpha: np.ndarray, count: int) -> list[Spot]:
    """Up to ``count`` pixels in the most significant error areas (see the module docstring)."""
    regions = error_regions(gt, alpha)
    spots = []
    for region, positive in regions[:count]:
        y, x = _first_max(padded_distance(region))
        spots.append(Spot(y, x, positive, region))
    if len(spots) < count and regions:
        errors = foreground(gt) != foreground(alpha)
        distance = padded_distance(errors & foreground(gt)) + padded_distance(errors & ~foreground(gt))
        free = distance.copy()
        for spot in spots:
            _suppress(free, spot, distance)
        while len(spots) < count and free.max() > 0:
            y, x = _first_max(free)
            region = next(r for r, _ in regions if r[y, x])
            spots.append(Spot(y, x, bool(foreground(gt)[y, x]), region))
            _suppress(free, spots[-1], distance)
    return spots


def _suppress(free: np.ndarray, spot: Spot, distance: np.ndarray) -> None:
    radius = max(int(np.ceil(distance[spot.y, spot.x])), CLICK_RADIUS)
    disk = np.zeros(free.shape, np.uint8)
    cv2.circle(disk, (spot.x, spot.y), radius, 1, thickness=-1)
    free[disk > 0] = 0


def _skeleton(region: np.ndarray) -> np.ndarray:
    """Skeleton of ``region`` eroded by half the stroke width (of ``region`` when the erosion empties it)."""
    radius = SCRIBBLE_WIDTH // 2
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    eroded = cv2.erode(region.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    return skeletonize(eroded if eroded.any() else region)


_STEPS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def _walk(skeleton: np.ndarray, start: tuple[int, int], used: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Pixels (y, x) from ``start`` (excluded) along unused skeleton pixels, keeping direction at branches."""
    height, width = skeleton.shape
    path, (y, x), direction = [], start, (0, 0)
    while len(path) < budget:
        options = [(dy, dx) for dy, dx in _STEPS if 0 <= y + dy < height and 0 <= x + dx < width
                   and skeleton[y + dy, x + dx] and not used[y + dy, x + dx]]
        if not options:
            break
        dy, dx = max(options, key=lambda s: s[0] * direction[0] + s[1] * direction[1])
        y, x, direction = y + dy, x + dx, (dy, dx)
        used[y, x] = True
        path.append((y, x))
    return path


def skeleton_stroke(region: np.ndarray, near: tuple[int, int], used: np.ndarray | None = None) -> list:
    """A scribble's points [(x, y), ...] in order along the skeleton of ``region`` through the skeleton pixel
    nearest ``near`` (y, x); ``used`` (bool HxW, updated) marks skeleton pixels earlier strokes took."""
    ys, xs = np.nonzero(region)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    skeleton = _skeleton(region[y0:y1, x0:x1])
    taken = np.zeros(skeleton.shape, bool) if used is None else used[y0:y1, x0:x1]
    free = skeleton & ~taken
    if not free.any():
        free = skeleton
    sy, sx = np.nonzero(free)
    k = int(np.argmin((sy - (near[0] - y0)) ** 2 + (sx - (near[1] - x0)) ** 2))
    start = (int(sy[k]), int(sx[k]))
    taken[start] = True
    budget = max(SCRIBBLE_STEP, round(0.5 * np.sqrt(ys.size)))
    back = _walk(skeleton, start, taken, budget)
    ahead = _walk(skeleton, start, taken, budget)
    path = back[::-1] + [start] + ahead
    points = path[::SCRIBBLE_STEP] + ([path[-1]] if (len(path) - 1) % SCRIBBLE_STEP else [])
    if used is not None:
        used[y0:y1, x0:x1] = taken
    return [(float(x + x0), float(y + y0)) for y, x in points]


class SimulatedUser:
    """A seeded simulated user of one ``kind`` (``click``, ``scribble``, ``box``, ``text``, ``mixed`` or
    ``ritm``) over at most ``rounds`` rounds (default: 5; RITM: 20 clicks); see the module docstring."""

    def __init__(self, kind: str, seed: int = 0, rounds: int | None = None, box_jitter: int = 0):
        if kind not in KINDS:
            raise UsageError(f"unknown interaction {kind!r}; choose one of: {', '.join(KINDS)}.")
        default = {"ritm": MAX_CLICKS, "box": 1, "text": 1}.get(kind, ROUNDS)
        rounds = default if rounds is None else rounds
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise UsageError(f"the number of rounds must be a whole number from 1, not {rounds!r}.")
        if kind in ("box", "text") and rounds != 1:
            raise UsageError(f"the {kind} user plays one round from the ground truth, not {rounds}.")
        if isinstance(box_jitter, bool) or not isinstance(box_jitter, int) or box_jitter < 0:
            raise UsageError(f"the box jitter is a whole number of pixels from 0, not {box_jitter!r}.")
        self.kind, self.seed, self.rounds, self.box_jitter = kind, int(seed), rounds, box_jitter
        self.target_iou = RITM_TARGET_IOU if kind == "ritm" else None

    def rng(self, name: str, round_index: int, instance: int = 0) -> np.random.Generator:
        """The generator of one round (0-based) of one instance of the image ``name``."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode()), instance, round_index])

    def first_round(self, gt: np.ndarray, name: str, text: str | None = None, instance: int = 0) -> list:
        """Round 1, drawn from the ground truth ``gt`` of the image ``name``; ``text`` names the instance."""
        gt_b = foreground(gt)
        if not gt_b.any():
            raise InputError(f"the ground truth of {name} has no foreground (alpha > 0.5) to prompt.")
        if self.kind == "ritm":
            return [ritm_click(gt_b, np.zeros(gt_b.shape, bool))]
        rng = self.rng(name, 0, instance)
        kind = self.kind
        prompts = []
        if kind in ("text", "mixed"):
            if not text:
                raise InputError(f"the {kind} user needs a sentence naming the instance of {name}; it has none.")
            prompts.append(Text(text))
            kind = ("click", "scribble", "box")[int(rng.integers(3))] if kind == "mixed" else None
        if kind == "click":
            distance = padded_distance(gt_b)
            core = np.flatnonzero(distance >= CORE * distance.max())
            picks = rng.choice(core, size=min(CLICKS_PER_ROUND, core.size), replace=False)
            prompts += [Click(int(p % gt_b.shape[1]), int(p // gt_b.shape[1])) for p in picks]
        elif kind == "scribble":
            used = np.zeros(gt_b.shape, bool)
            skeleton = _skeleton(gt_b)
            for _ in range(SCRIBBLES_PER_ROUND):
                ys, xs = np.nonzero(skeleton & ~used)
                if not ys.size:
                    break
                k = int(rng.integers(ys.size))
                prompts.append(Scribble(skeleton_stroke(gt_b, (ys[k], xs[k]), used)))
        elif kind == "box":
            prompts.append(self.box(gt_b, rng))
        return prompts

    def box(self, gt_b: np.ndarray, rng: np.random.Generator) -> Box:
        """The box of the foreground, each side pushed out by 0..``box_jitter`` pixels, inside the image."""
        ys, xs = np.nonzero(gt_b)
        height, width = gt_b.shape
        push = rng.integers(0, self.box_jitter + 1, size=4)
        return Box(max(0, xs.min() - push[0]), max(0, ys.min() - push[1]),
                   min(width - 1, xs.max() + push[2]), min(height - 1, ys.max() + push[3]))

    def next_round(self, gt: np.ndarray, alpha: np.ndarray, round_index: int, name: str = "",
                   earlier=(), instance: int = 0) -> list:
        """Round ``round_index`` (0-based, ≥ 1) into the errors of ``alpha`` against ``gt``; ``earlier``: the
        prompts of earlier rounds (RITM excludes their clicked pixels). Empty when no error is left."""
        if self.kind == "ritm":
            clicked = np.zeros(foreground(gt).shape, bool)
            for prompt in earlier:
                if isinstance(prompt, Click):
                    clicked[int(prompt.y), int(prompt.x)] = True
            click = ritm_click(gt, alpha, clicked)
            return [] if click is None else [click]
        kind = self.kind
        if kind == "mixed":
            kind = ("click", "scribble")[int(self.rng(name, round_index, instance).integers(2))]
        if kind == "click":
            return [Click(s.x, s.y, s.positive) for s in significant_spots(gt, alpha, CLICKS_PER_ROUND)]
        if kind == "scribble":
            used = np.zeros(foreground(gt).shape, bool)
            return [Scribble(skeleton_stroke(s.region, (s.y, s.x), used), s.positive)
                    for s in significant_spots(gt, alpha, SCRIBBLES_PER_ROUND)]
        return []



@dataclass
class RoundResult:
    """One played round: its number (from 1), its prompts, the alpha it gave, that alpha's IoU with the ground
    truth, and the seconds (wall and CPU) the session took for it (round 1 includes the session's start)."""

    round: int
    prompts: list
    alpha: np.ndarray = field(repr=False)
    iou: float
    seconds: float
    cpu_seconds: float


def play(session_factory, image: np.ndarray, gt: np.ndarray, name: str, user: SimulatedUser, text: str | None = None,
         aggregate: bool = False, instance: int = 0) -> list[RoundResult]:
    """Let ``user`` work on ``instance`` of ``image`` (ground truth ``gt``) in a session from
    ``session_factory(image)``; returns the rounds played. ``aggregate``: each round starts a new session fed the
    prompts of rounds 1..t together (DFIMat's protocol for engines with no memory of rounds).

    >>> from mattekit.interactive import Session                                         # doctest: +SKIP
    >>> rounds = play(Session, image, gt, "GT01", SimulatedUser("click", seed=0))          # doctest: +SKIP
    >>> [round(r.iou, 2) for r in rounds]                                                 # doctest: +SKIP
    [0.91, 0.95, 0.96, 0.97, 0.97]
    """
    results: list[RoundResult] = []
    session, history = None, []
    prompts = user.first_round(gt, name, text, instance)
    for index in range(user.rounds):
        if index:
            prompts = user.next_round(gt, results[-1].alpha, index, name, history, instance)
            if not prompts:
                break
        wall, cpu = time.perf_counter(), time.process_time()
        if session is None or aggregate:
            session = session_factory(image)
        matte = session.round(history + prompts if aggregate else prompts, instance)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        history += prompts
        alpha = np.asarray(matte.alpha, np.float32)
        results.append(RoundResult(index + 1, prompts, alpha, iou(alpha, gt), wall, cpu))
        if user.target_iou is not None and results[-1].iou >= user.target_iou:
            break
    return results
