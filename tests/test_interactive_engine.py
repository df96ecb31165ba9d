"""The offline interactive engine on three-person scenes pasted over real backgrounds (people from portraits-pseudo):
a click or a box gives the meant person, a negative click removes the region it sits in, undo restores the exact
earlier alpha, instances share pixels."""

import cv2
import numpy as np
import pytest

from mattekit.data.synthesis import synthesize
from mattekit.engines import capture, shared_engine
from mattekit.engines.interactive import candidates
from mattekit.evaluation.interactive import iou
from mattekit.interactive import Box, Click, Session, Text
from mattekit.io import load_alpha, load_image

SIZE = (640, 360)
SEEDS = (2, 3, 5)


def _pool(data) -> list:
    folder = data / "portraits-pseudo"
    return [(load_image(p), load_alpha(folder / "alpha" / f"{p.stem}.png"))
            for p in sorted((folder / "image").glob("*.jpg"))]


def _scene(data, seed: int):
    pool = _pool(data)
    backgrounds = sorted((data / "backgrounds").glob("*.jpg"))
    background = cv2.resize(load_image(backgrounds[seed % len(backgrounds)]), SIZE, interpolation=cv2.INTER_AREA)
    return synthesize(pool, background, np.random.default_rng(seed), count=3)


@pytest.fixture(scope="module")
def scenes(shared_data):
    return {seed: _scene(shared_data, seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def engine():
    return shared_engine("interactive")


def _centre(mask: np.ndarray) -> Click:
    distance = capture.padded_distance(mask)
    y, x = np.unravel_index(np.argmax(distance), distance.shape)
    return Click(int(x), int(y))


def _box(mask: np.ndarray) -> Box:
    ys, xs = np.nonzero(mask)
    return Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def _mean_iou(scenes, engine, prompts) -> float:
    """Mean IoU with each person of every scene of one round made of ``prompts(person mask)``."""
    return float(np.mean([iou(Session(scene.image, engine).round(prompts(person > 0.5)).alpha, person)
                          for scene in scenes.values() for person in scene.alphas]))


# Every person of the three scenes, not chosen ones. The bounds guard what the engine reaches now (click 0.84,
# box 0.90 at 640x360 on 2026-12-01); issue 9 asks for 0.9 from a click, which is not reached yet.
def test_a_click_gives_that_person(scenes, engine):
    assert _mean_iou(scenes, engine, lambda mask: [_centre(mask)]) >= 0.8


def _centre_and_rim(mask: np.ndarray) -> list[Click]:
    """The centre click and two more near the person's outline (at 15-25% of its deepest distance), far from it."""
    distance = capture.padded_distance(mask)
    centre = _centre(mask)
    ys, xs = np.nonzero((distance > 0.15 * distance.max()) & (distance < 0.25 * distance.max()))
    far = np.argsort(-np.hypot(ys - centre.y, xs - centre.x))
    return [centre, *(Click(int(xs[far[i]]), int(ys[far[i]])) for i in (0, len(far) // 3))]


# Before one cut per region, each rim click cut from its own shallow point and could take a neighbour: 0.831 (the
# centre alone 0.899); 0.878 since (2026-12-01).
def test_more_clicks_on_the_same_person_keep_that_person(scenes, engine):
    assert _mean_iou(scenes, engine, _centre_and_rim) >= 0.86


def test_a_box_gives_the_person_inside_it(scenes, engine):
    assert _mean_iou(scenes, engine, lambda mask: [_box(mask)]) >= 0.85


def test_a_click_on_a_person_modnet_misses_gives_that_person(shared_data, engine):
    """The tenth tuning scene of the bench (backgrounds a-m, seed 0, 960x540): a man behind two people, whom MODNet
    misses; U²-Netp finds him merged with them. Before the rule the click gave the group (IoU 0.223), now 0.698."""
    pool, rng = _pool(shared_data), np.random.default_rng(0)
    backgrounds = [p for p in sorted((shared_data / "backgrounds").glob("*.jpg")) if "a" <= p.name[0] <= "m"]
    for i in range(10):
        background = cv2.resize(load_image(backgrounds[i % len(backgrounds)]), (960, 540), interpolation=cv2.INTER_AREA)
        scene = synthesize(pool, background, rng, count=3)
    person = scene.alphas[0]
    assert iou(Session(scene.image, engine).round([_centre(person > 0.5)]).alpha, person) >= 0.6


def test_a_box_gives_the_person_it_bounds_not_the_one_crossing_its_side():
    """A person behind (grey; the box is its extent) and one in front (orange) whose arm, nearly the grey of the
    one behind, enters the box across its right side. The prior holds both; without the crossing rule the box's
    GrabCut kept the arm (its colour is not outside the box to be learnt as background)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 40, (100, 140, 3)).astype(np.uint8)
    image[10:90, 20:60] = 150
    image[35:75, 50:130] = (200, 120, 60)
    image[35:75, 44:64] = 175
    mask = capture.box_cut(image, image.sum(axis=2) > 200, (20, 10, 60, 90))
    arm = np.zeros(mask.shape, bool)
    arm[35:75, 44:60] = True
    behind = np.zeros(mask.shape, bool)
    behind[10:90, 20:60] = True
    assert mask[behind & ~arm].mean() > 0.95 and mask[arm].mean() < 0.05


def test_a_negative_click_removes_the_region_it_sits_in(scenes, engine):
    scene = scenes[2]
    union = scene.alphas.sum(0)
    session = Session(scene.image, engine)
    first = session.round([_box(union > 0.5)]).alpha
    removed = scene.alphas[1] > 0.5
    second = session.round([Click(_centre(removed).x, _centre(removed).y, positive=False)]).alpha
    assert iou(first, union) >= 0.9
    assert np.mean(second[removed] > 0.5) < 0.2  # the clicked person is gone ...
    kept = (union > 0.5) & ~removed
    assert np.mean(second[kept] > 0.5) > 0.9  # ... and the others stay


def test_undo_restores_the_exact_earlier_alpha(scenes, engine):
    scene = scenes[3]
    person = scene.alphas[0] > 0.5
    session = Session(scene.image, engine)
    first = session.round([_centre(person)]).alpha.copy()
    ys, xs = np.nonzero(~person)
    session.round([Click(int(xs[len(xs) // 2]), int(ys[len(ys) // 2]))])
    assert session.undo() is not None
    assert np.array_equal(session.matte().alpha, first)


def test_instances_share_pixels(scenes, engine):
    scene = scenes[5]
    session = Session(scene.image, engine)
    for instance, alpha in enumerate(scene.alphas):
        session.round([_centre(alpha > 0.5)], instance=instance)
    alphas = session.instances()
    assert sorted(alphas) == list(range(len(scene.alphas)))
    assert float(np.sum(list(alphas.values()), axis=0).max()) <= 1.0 + 1e-6


def test_candidates_find_every_person(scenes, engine):
    scene = scenes[5]
    state = engine.prepare(scene.image)
    found = candidates(state)
    assert len(found) >= len(scene.alphas) and all(c.kind == "person" for c in found)
    for alpha in scene.alphas:
        centre = _centre(alpha > 0.5)
        row, column = round(centre.y * state.scale), round(centre.x * state.scale)
        assert any(c.mask[row, column] for c in found)


def test_text_picks_the_person_it_names(scenes, engine):
    scene = scenes[5]
    lefts = [np.nonzero((alpha > 0.5).any(axis=0))[0].mean() for alpha in scene.alphas]
    leftmost = scene.alphas[int(np.argmin(lefts))]
    alpha = Session(scene.image, engine).round([Text("the person on the left")]).alpha
    assert iou(alpha, leftmost) >= 0.8


# Corrections on synthetic images (``capture.correct`` alone, no segmenter): a noisy two-tone background and an
# object of a third colour.
def _synthetic(seed: int = 0):
    rng = np.random.default_rng(seed)
    image = np.zeros((240, 320, 3), np.float32)
    image[:, :160], image[:, 160:] = (60, 110, 160), (150, 140, 90)  # sky-like left, ground-like right
    truth = np.zeros((240, 320), np.uint8)
    cv2.ellipse(truth, (170, 130), (70, 50), 20, 0, 360, 1, -1)
    image[truth > 0] = (200, 80, 60)
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), truth > 0


def _pixels(shape, clicks):
    positive, negative = np.zeros(shape, bool), np.zeros(shape, bool)
    for x, y, sign in clicks:
        cv2.circle(positive if sign else negative, (x, y), 2, 1, -1)
    return positive, negative


def test_a_click_on_an_object_the_prior_misses_captures_it():
    image, truth = _synthetic()
    positive, negative = _pixels(truth.shape, [(130, 115, True)])  # near its left end
    empty = np.zeros(truth.shape, bool)
    mask = capture.correct(image, empty, positive, empty, positive, negative, prior=empty)
    assert iou(mask.astype(np.float32), truth.astype(np.float32)) >= 0.9


def test_a_negative_click_in_a_thin_sliver_removes_only_the_sliver():
    image, truth = _synthetic(1)
    sliver = (cv2.dilate(truth.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0) & ~truth
    mask = truth | sliver
    ys, xs = np.nonzero(sliver & (np.arange(320)[None, :] > 235))  # on the object's right, over the ground
    positive, negative = _pixels(truth.shape, [(int(xs[len(xs) // 2]), int(ys[len(ys) // 2]), False)])
    corrected = capture.correct(image, mask, np.zeros_like(truth), negative & mask, positive, negative,
                                prior=np.zeros_like(truth))
    assert (truth & ~corrected).sum() <= 20  # the object stays, with no window-shaped bite out of it ...
    assert (corrected & ~truth).sum() < sliver.sum()  # ... and part of the sliver goes


def test_a_correction_where_the_prior_disagrees_everywhere_stays_local():
    """A prior that missed the object says nothing about it: a negative click next to the object must not remove
    the whole window of the mask around it."""
    image, truth = _synthetic(2)
    blot = np.zeros_like(truth)
    cv2.circle(blot.view(np.uint8), (100, 104), 8, 1, -1)  # a false positive stuck to the object's left end
    mask = truth | blot
    positive, negative = _pixels(truth.shape, [(97, 103, False)])
    prior = np.zeros_like(truth)
    prior[:20, :20] = True  # the segmenter found something else, far away
    corrected = capture.correct(image, mask, np.zeros_like(truth), negative & mask, positive, negative, prior)
    assert (truth & ~corrected).sum() <= 0.02 * truth.sum()


def test_a_negative_click_on_a_detached_part_removes_all_of_it():
    image, truth = _synthetic(3)
    stray = np.zeros(truth.shape, np.uint8)
    cv2.rectangle(stray, (10, 10), (70, 60), 1, -1)  # a part apart from the object, over the background
    mask = truth | (stray > 0)
    positive, negative = _pixels(truth.shape, [(170, 130, True), (15, 15, False)])  # the object said yes before
    prior = np.zeros_like(truth)
    prior[:80, :90] = True  # the segmenter agrees with the stray part
    corrected = capture.correct(image, mask, np.zeros_like(truth), negative & mask, positive, negative, prior)
    assert np.array_equal(corrected, truth)


def test_a_click_in_a_sliver_next_to_another_prior_region_changes_only_its_window():
    """The prior's region under a positive click reaches far past the window (another object it merged): inside
    the window it is the probable foreground, beyond it nothing changes."""
    image, truth = _synthetic(4)
    sliver = truth & ~(cv2.erode(truth.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
    sliver &= np.arange(320)[None, :] > 225  # the object's right rim
    other = np.zeros_like(truth)
    other[60:240, 230:320] = True  # a region the prior merged with the object, over the ground
    ys, xs = np.nonzero(sliver)
    positive, negative = _pixels(truth.shape, [(170, 130, True), (int(xs[len(xs) // 2]), int(ys[len(ys) // 2]), True)])
    mask = truth & ~sliver
    corrected = capture.correct(image, mask, positive & ~mask, np.zeros_like(truth), positive, negative,
                                prior=truth | other)
    assert (corrected & other & ~truth).sum() < 0.1 * (other & ~truth).sum()
