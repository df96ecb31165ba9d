"""The simulated users: seeded, clicks and scribbles in the right error regions, RITM's exact click rule."""

import cv2
import numpy as np
import pytest

from mattekit.engines import load_engine
from mattekit.errors import UsageError
from mattekit.interactive import Box, Click, Scribble, Session, Text
from mattekit.interactive.prompts import CLICK_RADIUS
from mattekit.interactive.simulate import SCRIBBLE_STEP, SimulatedUser, error_regions, play, ritm_click


def person(height=60, width=80):
    """A soft-edged head-and-body shape, float32 alpha."""
    alpha = np.zeros((height, width), np.float32)
    cv2.ellipse(alpha, (40, 14), (9, 10), 0, 0, 360, 1.0, -1)
    cv2.rectangle(alpha, (26, 24), (54, 59), 1.0, -1)
    return cv2.GaussianBlur(alpha, (5, 5), 1.0)


def three_errors():
    """A ground truth and a prediction whose errors are three regions of areas 300 (FN), 120 (FP) and 40 (FN)
    plus a 4-pixel FP speck."""
    gt = np.zeros((50, 70), np.float32)
    gt[5:25, 5:40] = 1
    pred = gt.copy()
    pred[5:25, 25:40] = 0  # FN 20x15 = 300
    pred[30:40, 50:62] = 1  # FP 10x12 = 120
    gt[40:45, 5:13] = 1  # FN 5x8 = 40
    pred[46:48, 66:68] = 1  # FP speck of 4
    return gt, pred


def test_regions_ranked_by_area_and_clicks_land_in_them_with_their_label():
    gt, pred = three_errors()
    regions = error_regions(gt, pred)
    assert [(int(r.sum()), positive) for r, positive in regions] == [(300, True), (120, False), (40, True),
                                                                    (4, False)]
    clicks = SimulatedUser("click", seed=3).next_round(gt, pred, 1, "toy")
    assert len(clicks) == 3
    for click, (region, positive) in zip(clicks, regions):
        assert region[int(click.y), int(click.x)] and click.positive == positive
    # the padded-DT maximum of the 20x15 FN block (rows 5..24, cols 25..39): distance 8 first at row 12, col 32
    assert (clicks[0].x, clicks[0].y) == (32.0, 12.0)


def test_one_region_gets_all_clicks_apart_by_the_fallback():
    gt = np.zeros((60, 60), np.float32)
    gt[10:50, 10:50] = 1
    clicks = SimulatedUser("click").next_round(gt, np.zeros_like(gt), 1, "square")
    assert len(clicks) == 3 and all(c.positive and gt[int(c.y), int(c.x)] for c in clicks)
    assert (clicks[0].x, clicks[0].y) == (29.0, 29.0)  # the first maximum (distance 20) in row order
    points = np.array([(c.x, c.y) for c in clicks])
    gaps = [np.hypot(*(points[i] - points[j])) for i in range(3) for j in range(i)]
    assert min(gaps) >= CLICK_RADIUS


def test_scribbles_lie_inside_their_region_in_order():
    gt, pred = three_errors()
    regions = error_regions(gt, pred)
    scribbles = SimulatedUser("scribble").next_round(gt, pred, 1, "toy")
    assert [type(s) for s in scribbles] == [Scribble, Scribble]
    for scribble, (region, positive) in zip(scribbles, regions):
        assert scribble.positive == positive and len(scribble.points) >= 2
        assert all(region[int(y), int(x)] for x, y in scribble.points)
        steps = np.hypot(*np.diff(np.array(scribble.points), axis=0).T)
        assert steps.max() <= SCRIBBLE_STEP * np.sqrt(2) + 1e-9  # consecutive points along the skeleton


def test_first_rounds_come_from_the_ground_truth_and_repeat_under_a_seed():
    gt = person()
    inside = gt > 0.5
    for kind in ("click", "scribble", "mixed"):
        first = SimulatedUser(kind, seed=5).first_round(gt, "p", text="the person")
        assert first == SimulatedUser(kind, seed=5).first_round(gt, "p", text="the person")
        for prompt in first:
            if isinstance(prompt, Click):
                assert prompt.positive and inside[int(prompt.y), int(prompt.x)]
            if isinstance(prompt, Scribble):
                assert all(inside[int(y), int(x)] for x, y in prompt.points)
    clicks = [SimulatedUser("click", seed=s).first_round(gt, "p") for s in range(4)]
    assert len({tuple((c.x, c.y) for c in round_) for round_ in clicks}) > 1  # the seed matters
    assert SimulatedUser("click", seed=1).first_round(gt, "a") != SimulatedUser("click", seed=1).first_round(gt, "b")
    mixed = SimulatedUser("mixed", seed=0).first_round(gt, "p", text="the person on the left")
    assert mixed[0] == Text("the person on the left") and len({type(p) for p in mixed[1:]}) == 1


def test_box_is_the_foreground_box_and_jitter_stays_within_bounds():
    gt = person()
    ys, xs = np.nonzero(gt > 0.5)
    assert SimulatedUser("box").first_round(gt, "p") == [Box(xs.min(), ys.min(), xs.max(), ys.max())]
    for seed in range(5):
        (box,) = SimulatedUser("box", seed=seed, box_jitter=4).first_round(gt, "p")
        assert xs.min() - 4 <= box.x0 <= xs.min() and xs.max() <= box.x1 <= xs.max() + 4
        assert ys.min() - 4 <= box.y0 <= ys.min() and ys.max() <= box.y1 <= min(59, ys.max() + 4)


def test_ritm_click_is_the_padded_distance_maximum():
    gt = np.zeros((11, 16), bool)
    gt[2:9, 3:13] = True  # rows 2..8, cols 3..12: distance 4 first reached at row 5, col 6
    assert ritm_click(gt, np.zeros(gt.shape)) == Click(6, 5, positive=True)
    clicked = np.zeros(gt.shape, bool)
    clicked[5, 6] = True
    assert ritm_click(gt, np.zeros(gt.shape), clicked) == Click(7, 5, positive=True)
    top = np.zeros((6, 9), bool)
    top[0:3] = True  # touches the border: the padding makes row 1, col 1 the deepest pixel (distance 2)
    assert ritm_click(top, np.zeros(top.shape)) == Click(1, 1, positive=True)
    pred = np.zeros((7, 14), np.float32)
    gt2 = np.zeros((7, 14), bool)
    gt2[1:6, 1:6] = True  # FN block, depth 3
    pred[1:6, 8:13] = 1  # FP block, depth 3: a tie is a negative click
    assert ritm_click(gt2, pred) == Click(10, 3, positive=False)  # the centre of the FP block
    assert ritm_click(gt2, gt2.astype(np.float32)) is None


def test_every_engine_gets_the_same_first_round_and_aggregate_matches_a_memoryless_session():
    rng = np.random.default_rng(0)
    gt = person()
    image = (np.where(gt[..., None] > 0.5, [200, 60, 40], [30, 90, 160]) + rng.integers(0, 20, (60, 80, 3)))
    image = image.astype(np.uint8)
    user = SimulatedUser("click", seed=7, rounds=2)
    played = {name: play(lambda im, n=name: Session(im, load_engine(n)), image, gt, "p", user)
              for name in ("grabcut-cf", "levin-scribbles")}
    first = [rounds[0].prompts for rounds in played.values()]
    assert first[0] == first[1] and all(p.positive for p in first[0])
    levin = load_engine("levin-scribbles")
    kept = play(lambda im: Session(im, levin), image, gt, "p", user)
    fresh = play(lambda im: Session(im, levin), image, gt, "p", user, aggregate=True)
    assert [r.prompts for r in kept] == [r.prompts for r in fresh]
    np.testing.assert_array_equal(kept[-1].alpha, fresh[-1].alpha)


def test_bad_settings():
    with pytest.raises(UsageError, match="unknown interaction 'tap'"):
        SimulatedUser("tap")
    with pytest.raises(UsageError, match="one round from the ground truth, not 3"):
        SimulatedUser("box", rounds=3)
    with pytest.raises(UsageError, match="whole number from 1, not 0"):
        SimulatedUser("click", rounds=0)
