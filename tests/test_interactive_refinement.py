"""The offline interactive engine's refinement trimap: the prior's own band where the captured mask agrees with it,
a band that covers a cut's edge error where the mask leaves it, and what that band is worth on a real photo."""

import cv2
import numpy as np
import pytest

from mattekit.engines import interactive
from mattekit.engines.interactive import EDGE_ERROR, refinement_trimap
from mattekit.evaluation.metrics import evaluate
from mattekit.io import load_alpha, load_image
from mattekit.matting.focus import solve_focus
from mattekit.matting.trimap import BACKGROUND, FOREGROUND, UNKNOWN, trimap_from_probability

SCALE = 3  # the full size over the working size in the synthetic cases


def _prior() -> np.ndarray:
    """A soft-edged disk (working size 80x100), the segmenter's probability."""
    prob = np.zeros((80, 100), np.float32)
    cv2.circle(prob, (50, 40), 25, 1.0, -1)
    return cv2.GaussianBlur(prob, (0, 0), 2.0)


def _full(small: np.ndarray) -> np.ndarray:
    return cv2.resize(small, (small.shape[1] * SCALE, small.shape[0] * SCALE), interpolation=cv2.INTER_LINEAR)


def test_where_the_mask_agrees_with_the_prior_the_trimap_is_the_priors():
    prob = _prior()
    trimap = refinement_trimap(prob > 0.5, prob, (240, 300))
    assert np.array_equal(trimap, trimap_from_probability(_full(prob)))


def test_the_band_covers_a_mask_edge_that_leaves_the_prior():
    prob = _prior()
    mask = prob > 0.5
    mask[30:50, 60:90] = True  # a part the prior missed, cut at the working size
    trimap = refinement_trimap(mask, prob, (240, 300))
    full = cv2.resize(mask.astype(np.uint8), (300, 240), interpolation=cv2.INTER_NEAREST)
    inside = cv2.distanceTransform(full, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - full, cv2.DIST_L2, 5)
    reach = (EDGE_ERROR - 1) * SCALE
    added_edge = np.zeros(full.shape, bool)
    added_edge[30 * SCALE:50 * SCALE, 80 * SCALE:] = True  # around the added part's right end, far from the disk
    near = added_edge & (np.maximum(inside, outside) <= reach)
    assert (trimap[near] == UNKNOWN).all()
    far = added_edge & (np.maximum(inside, outside) > (EDGE_ERROR + 1) * SCALE)
    assert set(np.unique(trimap[far])) == {BACKGROUND, FOREGROUND}
    # the left of the disk, where the mask agrees with the prior, keeps the prior's band
    left = np.s_[:, : 40 * SCALE]
    assert np.array_equal(trimap[left], trimap_from_probability(_full(prob))[left])


@pytest.fixture(scope="module")
def photo(shared_data):
    name = "sample12"
    folder = shared_data / "animals-pseudo"
    return load_image(folder / "image" / f"{name}.jpg"), load_alpha(folder / "alpha" / f"{name}.png")


def test_the_band_absorbs_a_coarse_captures_edge(photo, monkeypatch):
    """A mask cut at 0.37 of the working size (a correction's scale) whose edge leaves the prior (here the true
    alpha at the working size): the band over its edge error lowers the SAD (sample12 of animals-pseudo, a tuning
    image: 13.29 without it, 12.32 with it on 2026-12-01)."""
    image, alpha = photo
    height, width = alpha.shape
    work = (round(width * 0.4), round(height * 0.4))
    coarse = cv2.resize(alpha, (round(work[0] * 0.37), round(work[1] * 0.37)), interpolation=cv2.INTER_AREA) > 0.5
    mask = cv2.resize(coarse.astype(np.uint8), work, interpolation=cv2.INTER_NEAREST) > 0
    prob = cv2.resize(alpha, work, interpolation=cv2.INTER_AREA)  # a prior that knows the true edge
    sads = []
    for reach in (EDGE_ERROR, 0):
        monkeypatch.setattr(interactive, "EDGE_ERROR", reach)
        sads.append(evaluate(solve_focus(image, refinement_trimap(mask, prob, alpha.shape), 400_000), alpha)["sad"])
    assert sads[0] < 0.95 * sads[1]
