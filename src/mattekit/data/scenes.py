"""Write synthesized multi-person scenes in the HIM2K layout, with a sentence naming each person.

Each scene pastes ``people`` portraits (``mattekit.data.synthesis.synthesize``, the multi-instance procedure of
``interactive-notes`` §4.3) over a background drawn from a folder, seeded by (seed, scene number) so a scene
does not depend on how many were written before it. A draw that places fewer people than asked (a portrait
found no place) is drawn again, up to ``REDRAWS`` times, after which the scene keeps the people placed.
Foreground colours come from ``mattekit.matting.foreground.estimate_foreground`` on the portraits, scaled first
so their height is at most the output height. Written:

- ``OUT/images/scene_000.jpg`` and ``OUT/alphas/scene_000/00.png`` ... (front-most last);
- ``OUT/captions.json``: ``{"scene_000": {"00": "the person on the left", ...}}``, the layout sentence of each
  person by the horizontal order of their visible boxes (``mattekit.interactive.text.describe_position``).

``mattekit eval --dataset synth:OUT`` reads such a folder (``mattekit.data.readers.SynthesizedScenes``).

Example:
    >>> write_scenes("../shared/data/portraits-pseudo", "../shared/data/backgrounds", "scenes", 20)  # doctest: +SKIP
    20
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from mattekit import io
from mattekit.data.samples import files_by_stem, match_stems, require_dir
from mattekit.data.synthesis import synthesize
from mattekit.errors import InputError, UsageError
from mattekit.interactive.text import describe_position
from mattekit.matting.foreground import estimate_foreground

REDRAWS = 10


def _fit(image: np.ndarray, side: int | None) -> np.ndarray:
    """``image`` scaled down so its longer side is at most ``side``."""
    height, width = image.shape[:2]
    if not side or max(height, width) <= side:
        return image
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def load_pool(portraits: str | Path, height: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(uint8 foreground colours, float32 alpha) of every portrait in ``portraits`` (``image/`` and ``alpha/``
    matched by name), each scaled to at most ``height`` rows."""
    root = Path(portraits)
    pairs = match_stems({"image": root / "image", "alpha": root / "alpha"}, f"portrait set {root}")
    pool = []
    for files in pairs.values():
        image, alpha = io.load_image(files["image"]), io.load_alpha(files["alpha"])
        if alpha.shape != image.shape[:2]:
            raise InputError(f"{files['alpha']} is not the size of its image {files['image']}.")
        scale = min(1.0, height / image.shape[0])
        if scale < 1:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
        colours = np.round(estimate_foreground(image, alpha) * 255).astype(np.uint8)
        pool.append((colours, alpha))
    return pool


def write_scenes(portraits: str | Path, backgrounds: str | Path, out: str | Path, count: int, seed: int = 0,
                 people: int = 3, side: int | None = 1080) -> int:
    """Write ``count`` scenes of ``people`` people each into ``out`` (backgrounds scaled so the longer side is
    at most ``side``); returns the number written."""
    if count < 1 or people < 1:
        raise UsageError(f"scenes need a count and a number of people from 1, not {count} and {people}.")
    background_files = list(files_by_stem(require_dir(Path(backgrounds), "background")).values())
    if not background_files:
        raise InputError(f"{backgrounds} holds no background images.")
    out = Path(out)
    pool = load_pool(portraits, side or max(io.load_image(f).shape[0] for f in background_files))
    if len(pool) < people:
        raise UsageError(f"{portraits} holds {len(pool)} portraits; a scene of {people} people needs as many.")
    captions = {}
    for number in range(count):
        rng = np.random.default_rng([seed, number])
        for _ in range(REDRAWS):
            background = _fit(io.load_image(background_files[int(rng.integers(len(background_files)))]), side)
            scene = synthesize(pool, background, rng, count=people)
            if len(scene.alphas) == people:
                break
        name = f"scene_{number:03d}"
        io.save_image(out / "images" / f"{name}.jpg", scene.image)
        for index, alpha in enumerate(scene.alphas):
            io.save_alpha(out / "alphas" / name / f"{index:02d}.png", alpha)
        captions[name] = {f"{i:02d}": describe_position(scene.boxes.tolist(), i) for i in range(len(scene.alphas))}
    io.write_text(out / "captions.json", json.dumps(captions, indent=2) + "\n")
    return count
