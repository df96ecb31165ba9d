"""Augmentation: crop sizes and their fallback, placement on the transition, flips, class maps resized by nearest."""

import numpy as np

from mattekit.data.transforms import Window, apply_window, crop_side, draw_window, resize


def test_crop_sides_follow_the_paper_and_fall_back_to_320():
    rng = np.random.default_rng(0)
    sides = {crop_side(rng, 1080, 1620) for _ in range(200)}
    assert sides == {320, 640, 960}  # 1280 does not fit a 1080 short side
    assert {crop_side(rng, 2000, 3000) for _ in range(200)} == {640, 960, 1280}
    assert {crop_side(rng, 500, 700) for _ in range(50)} == {320}
    assert {crop_side(rng, 200, 300) for _ in range(50)} == {200}  # even 320 does not fit: the short side


def test_transition_placement_and_flip_rates():
    alpha = np.zeros((1080, 1620), np.uint8)
    alpha[:, 1500:] = 255
    alpha[:, 1490:1500] = 128  # a thin transition at the right edge
    rng = np.random.default_rng(1)
    windows = [draw_window(rng, alpha) for _ in range(400)]
    placed = [w for w in windows if w.on_transition]
    assert 0.42 < len(placed) / 400 < 0.58 and 0.42 < np.mean([w.flip for w in windows]) < 0.58
    for w in placed:
        assert w.x <= 1490 and w.x + w.size > 1496
    assert all(0 <= w.x <= 1620 - w.size and 0 <= w.y <= 1080 - w.size for w in windows)


def test_class_maps_keep_their_values_and_images_are_resized_smoothly():
    rng = np.random.default_rng(2)
    trimap = rng.choice(np.array([0.0, 0.5, 1.0], np.float32), (960, 960))
    window = Window(0, 0, 960, True, False)
    assert set(np.unique(apply_window(trimap, window, kind="class"))) <= {0.0, 0.5, 1.0}
    smooth = apply_window(trimap, window)
    assert smooth.shape == (320, 320) and len(np.unique(smooth)) > 3  # area averaging mixes them
    ramp = np.tile(np.arange(640, dtype=np.float32), (640, 1))
    flipped = apply_window(ramp, Window(0, 0, 640, True, False))
    assert flipped[0, 0] > flipped[0, -1]  # flipped left-right
    assert resize(np.zeros((200, 200), np.uint8), 320).shape == (320, 320)
