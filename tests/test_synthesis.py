"""Multi-person synthesis: occlusion keeps every person at 70% of the area pasted, alphas sum to at most 1."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from mattekit import io
from mattekit.data.synthesis import synthesize

PORTRAITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "portraits-pseudo"


def silhouette(rng, height=60, width=36):
    """A soft-edged head-and-shoulders shape with its own colour."""
    alpha = np.zeros((height, width), np.float32)
    cv2.ellipse(alpha, (width // 2, height // 4), (width // 5, height // 6), 0, 0, 360, 1.0, -1)
    cv2.rectangle(alpha, (width // 8, height // 2), (width - width // 8, height - 1), 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (5, 5), 1.5)
    colours = np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (height, width, 3)).copy()
    return colours, alpha


def check(scene, background):
    height = background.shape[0]
    placed = [r for r in scene.record if r["placed"]]
    assert 2 <= len(scene.record) <= 4 and len(placed) == len(scene.alphas) >= 1
    assert scene.alphas.sum(0).max() <= 1 + 1e-5
    areas = scene.alphas.sum(axis=(1, 2))
    assert np.all(areas >= 0.7 * scene.pasted_area - 1e-3)
    for box, r in zip(scene.boxes, placed):
        assert 0.5 <= r["height"] <= 0.9
        assert box[3] - box[1] <= round(r["height"] * height)


def test_scenes_keep_every_person_and_sum_to_one():
    rng = np.random.default_rng(0)
    pool = [silhouette(rng) for _ in range(6)]
    background = np.full((100, 150, 3), 30, np.uint8)
    retried = 0
    for seed in range(150):
        scene = synthesize(pool, background, np.random.default_rng(seed))
        check(scene, background)
        retried += any(r.get("attempts", 1) > 1 or not r["placed"] for r in scene.record)
    assert retried > 10  # crowded scenes did need new positions, so the rule was exercised


def test_image_is_the_layered_composite_and_seeds_repeat():
    rng = np.random.default_rng(1)
    pool = [silhouette(rng) for _ in range(4)]
    background = rng.integers(0, 256, (90, 140, 3), dtype=np.uint8)
    scene = synthesize(pool, background, np.random.default_rng(7), count=3)
    canvases = []
    for r in (r for r in scene.record if r["placed"]):
        colours = pool[r["foreground"]][0][0, 0].astype(np.float32)  # each silhouette is one colour
        canvases.append(colours)
    expected = background * (1 - scene.alphas.sum(0))[..., None]
    for alpha, colour in zip(scene.alphas, canvases):
        expected = expected + alpha[..., None] * colour
    assert np.abs(scene.image - expected).max() <= 0.5 + 1e-3
    again = synthesize(pool, background, np.random.default_rng(7), count=3)
    assert again.image.tobytes() == scene.image.tobytes() and again.alphas.tobytes() == scene.alphas.tobytes()


def test_real_portraits():
    if not PORTRAITS.is_dir():
        pytest.skip(f"{PORTRAITS} is absent")
    pool = []
    for path in sorted((PORTRAITS / "image").glob("*.jpg"))[:4]:
        image = cv2.resize(io.load_image(path), None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
        alpha = io.load_alpha(PORTRAITS / "alpha" / f"{path.stem}.png")
        pool.append((image, cv2.resize(alpha, image.shape[1::-1], interpolation=cv2.INTER_AREA)))
    background = np.full((216, 384, 3), 90, np.uint8)
    for seed in range(5):
        check(synthesize(pool, background, np.random.default_rng(seed)), background)
