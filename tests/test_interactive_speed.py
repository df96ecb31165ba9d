"""The offline interactive engine's bounded work: a GrabCut window cut downscaled agrees with the full cut, a
later round solves only the windows around its changed trimap pixels, keeping the earlier matte elsewhere, and
U²-Netp runs only when MODNet's map is unsure or a prompt asks for the other map."""

import cv2
import numpy as np

from mattekit.engines import capture, shared_engine
from mattekit.engines.default import unsure_ratio
from mattekit.engines.interactive import SURE_MODNET, REFINE_MARGIN, ImageState, changed_windows
from mattekit.matting.trimap import BACKGROUND, FOREGROUND, UNKNOWN


def _picture(height: int = 240, width: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A textured image holding a lighter ellipse, and the ellipse's mask."""
    rng = np.random.default_rng(0)
    image = rng.integers(20, 90, (height, width, 3)).astype(np.uint8)
    inside = np.zeros((height, width), np.uint8)
    cv2.ellipse(inside, (width // 2, height // 2), (width // 4, height // 3), 20, 0, 360, 1, -1)
    image[inside > 0] = rng.integers(150, 230, (int(inside.sum()), 3)).astype(np.uint8)
    return image, inside > 0


def test_a_downscaled_cut_agrees_with_the_full_one():
    image, truth = _picture()
    labels = np.full(truth.shape, cv2.GC_PR_BGD, np.uint8)
    labels[cv2.dilate(truth.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0] = cv2.GC_PR_FGD
    labels[:5], labels[120:124, 158:162] = cv2.GC_BGD, cv2.GC_FGD
    labels[10:13, 10:13] = cv2.GC_FGD  # a hard label alone in the background stays in the cut
    full = capture.grabcut(image, labels, max_pixels=truth.size)
    small = capture.grabcut(image, labels, max_pixels=truth.size // 16)
    assert (full & truth).sum() / (full | truth).sum() > 0.95
    assert (small & full).sum() / (small | full).sum() > 0.95
    assert small[10:13, 10:13].all() and not small[:5].any()


def test_changed_windows_cover_every_change_with_their_margin():
    changed = np.zeros((300, 500), bool)
    changed[100:110, 20:30] = changed[150, 400] = True
    margin = 2 * REFINE_MARGIN
    assert changed_windows(changed) == [(0, 100 - margin, 30 + margin, 110 + margin),
                                        (400 - margin, 150 - margin, 401 + margin, 151 + margin)]
    assert changed_windows(np.zeros((5, 5), bool)) == []


def test_a_later_round_keeps_the_earlier_matte_outside_its_windows():
    image, truth = _picture(360, 480)
    engine = shared_engine("interactive")
    trimap = np.where(truth, FOREGROUND, BACKGROUND).astype(np.uint8)
    edge = cv2.dilate(truth.astype(np.uint8), np.ones((9, 9), np.uint8)) != cv2.erode(
        truth.astype(np.uint8), np.ones((9, 9), np.uint8))
    trimap[edge] = UNKNOWN
    first = engine.refine(image, trimap, None)
    later = trimap.copy()
    later[170:190, 60:80] = UNKNOWN  # one local change, far from the right half
    second = engine.refine(image, later, (trimap, first))
    whole = engine.refine(image, later, None)
    (x0, y0, x1, y1), = changed_windows(later != trimap)
    outside = np.ones(truth.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(second.alpha[outside], first.alpha[outside])
    assert np.array_equal(second.foreground[outside], first.foreground[outside])
    assert np.abs(second.alpha - whole.alpha).max() < 0.05
    assert engine.refine(image, trimap, (trimap, first)) is first


class _Maps:
    """A segmenter giving a fixed map (at the size of whatever it is shown), counting its runs."""

    def __init__(self, prob: np.ndarray):
        self.prob, self.runs = prob, 0

    def probability(self, crop: np.ndarray) -> np.ndarray:
        self.runs += 1
        return cv2.resize(self.prob, crop.shape[1::-1], interpolation=cv2.INTER_LINEAR)


class _Segmenters:
    def __init__(self, modnet: np.ndarray, u2netp: np.ndarray):
        self.modnet, self.u2netp = _Maps(modnet), _Maps(u2netp)


def _disc(soft: float) -> np.ndarray:
    """A disc map whose edge ramp is ``soft`` pixels wide."""
    rows, columns = np.indices((100, 100))
    return np.clip((30 - np.hypot(rows - 50, columns - 50)) / soft + 0.5, 0, 1).astype(np.float32)


def test_u2netp_runs_only_when_modnets_map_is_unsure_or_the_other_map_is_asked_for():
    image = np.zeros((100, 100, 3), np.uint8)
    sure, unsure, sharp = _disc(1), _disc(40), _disc(0.5)
    assert unsure_ratio(sure) < SURE_MODNET <= unsure_ratio(unsure)
    state = ImageState(image, _Segmenters(sure, unsure), 10_000)
    assert state.probability()[1] == "person" and state.segmenters.u2netp.runs == 0
    assert np.array_equal(state.alternative(), unsure) and state.segmenters.u2netp.runs == 1
    state.alternative()
    assert (state.segmenters.modnet.runs, state.segmenters.u2netp.runs) == (1, 1)
    # an unsure MODNet map: both run, and U²-Netp's sharper map on another subject wins (choose_glance)
    moved = np.roll(sharp, 40, axis=1)
    state = ImageState(image, _Segmenters(unsure, moved), 10_000)
    prob, kind = state.probability()
    assert kind == "object" and np.array_equal(prob, moved) and np.array_equal(state.alternative(), unsure)
    assert (state.segmenters.modnet.runs, state.segmenters.u2netp.runs) == (1, 1)
