"""Quality and speed of the offline interactive engine against issue 9's goals, on the shared real data.

Parts (``--parts``, comma separated):
- ``ritm``: NoC@85/NoC@90 under the RITM click protocol (one click per round at the arg-max of the padded L2
  distance transform of the false-negative or false-positive mask, whichever has the larger maximum, a tie
  negative, the first in row-major order; cap 20) on a folder set with real alphas (``--set``);
- ``rounds``: mean SAD and IoU after each of 5 rounds of 3 clicks (clicks in the largest connected error regions,
  at their distance-transform maximum; round 1 against an empty prediction), beside mattekit's trimap-based SAD
  (``trimap1``) on the same photos;
- ``scenes``: three-person scenes (``mattekit.data.synthesis``, people from portraits-pseudo) over the
  backgrounds whose names start with the letters ``--letters`` (a-m tune, n-z report), at ``--size``: mean IoU
  with the meant person after one Box (tight box of alpha > 0.5) or one positive Click (distance-transform
  maximum of the person's visible alpha > 0.5);
- ``speed``: seconds (wall and CPU) of a first round and of later rounds on a 1920x1080 scene.

    PYTHONPATH=src .venv/bin/python bench/interactive_engine.py --parts ritm,rounds --set alphamatting
    PYTHONPATH=src .venv/bin/python bench/interactive_engine.py --parts scenes --letters n-z --scenes 10
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from mattekit.data.datasets import open_dataset
from mattekit.data.synthesis import synthesize
from mattekit.engines.interactive import InteractiveEngine
from mattekit.evaluation.interactive import iou, noc
from mattekit.evaluation.metrics import evaluate
from mattekit.interactive.conflict import conflict_map
from mattekit.interactive.prompts import Box, Click
from mattekit.interactive.session import RoundInput
from mattekit.io import load_alpha, load_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def padded_dt(mask: np.ndarray) -> np.ndarray:
    """L2 distance to the nearest pixel outside ``mask``, the image border counting as outside."""
    padded = np.pad(mask.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 0)[1:-1, 1:-1]


def ritm_click(pred: np.ndarray, gt: np.ndarray, clicked: np.ndarray) -> Click:
    """RITM's next click (Sofiiuk et al., "Reviving Iterative Training with Mask Guidance for Interactive
    Segmentation", ICIP 2022, arXiv 2102.06583, its evaluation protocol)."""
    dt_fn = padded_dt(gt & ~pred) * ~clicked
    dt_fp = padded_dt(pred & ~gt) * ~clicked
    positive = dt_fn.max() > dt_fp.max()
    dt = dt_fn if positive else dt_fp
    y, x = (v[0] for v in np.nonzero(dt == dt.max()))
    clicked[y, x] = True
    return Click(int(x), int(y), positive=bool(positive))


def region_clicks(pred: np.ndarray, gt: np.ndarray, count: int) -> list[Click]:
    """Up to ``count`` clicks: one per connected error region, largest first, at the region's DT maximum."""
    error = (pred != gt).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(error, connectivity=8)
    dt = padded_dt(error > 0)
    clicks = []
    for label in np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:count] + 1:
        region_dt = np.where(labels == label, dt, -1)
        y, x = np.unravel_index(np.argmax(region_dt), dt.shape)
        clicks.append(Click(int(x), int(y), positive=bool(gt[y, x])))
    return clicks


def session_round(engine, image, state, history: list, prompts: list) -> np.ndarray:
    """One round as ``Session.round`` runs it; ``history`` holds (prompts, alpha) of earlier rounds."""
    previous = history[-1][1] if history else None
    given = RoundInput(prompts=prompts, earlier=[p for p, _ in history], previous=previous,
                       conflict=conflict_map(previous, prompts, image.shape[:2]))
    alpha = engine.round(image, state, given).alpha
    history.append((prompts, alpha))
    return alpha


def samples(set_name: str):
    kind = "alphamatting" if set_name == "alphamatting" else "folder"
    dataset = open_dataset(f"{kind}:{DATA / set_name}", "trimap1" if kind == "alphamatting" else None)
    return [dataset.load(name) for name in dataset.names]


def run_ritm(engine, set_name: str) -> None:
    nocs85, nocs90 = [], []
    for sample in samples(set_name):
        gt = sample.alpha > 0.5
        pred, clicked, history, ious = np.zeros_like(gt), np.zeros_like(gt), [], []
        state = engine.prepare(sample.image)
        while len(ious) < 20 and (not ious or ious[-1] < 0.9):
            alpha = session_round(engine, sample.image, state, history, [ritm_click(pred, gt, clicked)])
            pred = alpha > 0.5
            ious.append(iou(alpha, sample.alpha))
        nocs85.append(noc(ious, 0.85))
        nocs90.append(noc(ious, 0.90))
        print(f"  {sample.name}: NoC@90 {nocs90[-1]}, IoU {' '.join(f'{v:.3f}' for v in ious[:6])}", flush=True)
    print(f"{set_name} RITM: NoC@85 {np.mean(nocs85):.2f}, NoC@90 {np.mean(nocs90):.2f} over {len(nocs90)}")


def run_rounds(engine, set_name: str, rounds: int = 5, clicks: int = 3) -> None:
    sads, ious, trimap_sads = np.zeros((0, rounds)), np.zeros((0, rounds)), []
    for sample in samples(set_name):
        gt = sample.alpha > 0.5
        state, history, pred = engine.prepare(sample.image), [], np.zeros_like(gt)
        row_sad, row_iou = [], []
        for _ in range(rounds):
            alpha = session_round(engine, sample.image, state, history, region_clicks(pred, gt, clicks))
            pred = alpha > 0.5
            row_sad.append(evaluate(alpha, sample.alpha)["sad"])
            row_iou.append(iou(alpha, sample.alpha))
        sads, ious = np.vstack([sads, row_sad]), np.vstack([ious, row_iou])
        if sample.trimap is not None:
            trimap_sads.append(evaluate(engine.predict(sample.image, sample.trimap).alpha, sample.alpha)["sad"])
        print(f"  {sample.name}: SAD {' '.join(f'{v:.1f}' for v in row_sad)}"
              + (f" | trimap {trimap_sads[-1]:.1f}" if trimap_sads else ""), flush=True)
    print(f"{set_name} {rounds}x{clicks} clicks: SAD per round {np.round(sads.mean(0), 2).tolist()}, "
          f"IoU per round {np.round(ious.mean(0), 4).tolist()}")
    if trimap_sads:
        print(f"  trimap1 SAD {np.mean(trimap_sads):.2f}; ratio after round {rounds}: "
              f"{sads[:, -1].mean() / np.mean(trimap_sads):.3f}")


def people_pool() -> list:
    folder = DATA / "portraits-pseudo"
    return [(load_image(p), load_alpha(folder / "alpha" / f"{p.stem}.png"))
            for p in sorted((folder / "image").glob("*.jpg"))]


def backgrounds(letters: str) -> list[Path]:
    first, last = letters.split("-")
    return [p for p in sorted((DATA / "backgrounds").glob("*.jpg")) if first <= p.name[0] <= last]


def make_scenes(letters: str, count: int, size: tuple[int, int], seed: int = 0) -> list:
    pool, rng, scenes = people_pool(), np.random.default_rng(seed), []
    paths = backgrounds(letters)
    for i in range(count):
        background = cv2.resize(load_image(paths[i % len(paths)]), size, interpolation=cv2.INTER_AREA)
        scenes.append(synthesize(pool, background, rng, count=3))
    return scenes


def tight_box(mask: np.ndarray) -> Box:
    ys, xs = np.nonzero(mask)
    return Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def centre_click(mask: np.ndarray) -> Click:
    dt = padded_dt(mask)
    y, x = np.unravel_index(np.argmax(dt), dt.shape)
    return Click(int(x), int(y))


def run_scenes(engine, letters: str, count: int, size: tuple[int, int]) -> None:
    results = {"box": [], "click": []}
    for k, scene in enumerate(make_scenes(letters, count, size)):
        state = engine.prepare(scene.image)
        line = []
        for alpha in scene.alphas:
            mask = alpha > 0.5
            for kind, prompt in (("box", tight_box(mask)), ("click", centre_click(mask))):
                results[kind].append(iou(session_round(engine, scene.image, state, [], [prompt]), alpha))
                line.append(f"{kind} {results[kind][-1]:.3f}")
        print(f"  scene {k}: {', '.join(line)}", flush=True)
    print(f"scenes {letters} at {size[0]}x{size[1]}: " + ", ".join(
        f"{kind} IoU {np.mean(v):.3f} (min {np.min(v):.3f}, n={len(v)})" for kind, v in results.items()))


def run_speed(engine) -> None:
    scene = make_scenes("a-z", 1, (1920, 1080), seed=1)[0]
    mask = scene.alphas[-1] > 0.5
    state, history, pred = engine.prepare(scene.image), [], np.zeros_like(mask)
    for r in range(4):
        wall, cpu = time.perf_counter(), time.process_time()
        prompts = [centre_click(mask)] if r == 0 else region_clicks(pred, mask, 3)
        pred = session_round(engine, scene.image, state, history, prompts) > 0.5
        print(f"1080p round {r + 1}: {time.perf_counter() - wall:.2f} s wall, {time.process_time() - cpu:.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="ritm,rounds,scenes,speed")
    parser.add_argument("--set", default="alphamatting")
    parser.add_argument("--letters", default="n-z")
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--size", default="960x540")
    args = parser.parse_args()
    engine = InteractiveEngine()
    size = tuple(int(v) for v in args.size.split("x"))
    parts = args.parts.split(",")
    if "ritm" in parts:
        run_ritm(engine, args.set)
    if "rounds" in parts:
        run_rounds(engine, args.set)
    if "scenes" in parts:
        run_scenes(engine, args.letters, args.scenes, size)
    if "speed" in parts:
        run_speed(engine)


if __name__ == "__main__":
    main()
