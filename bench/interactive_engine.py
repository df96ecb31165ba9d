"""Quality and speed of the offline interactive engine against issue 9's goals, on the shared real data.

Every prompt comes from ``mattekit.interactive.simulate`` (``SimulatedUser``, ``play``) and every round runs through
a ``Session``, so these numbers are measured with the same user as ``mattekit eval --interaction``.

Parts (``--parts``, comma separated):
- ``ritm``: NoC@85/NoC@90 under RITM's click protocol (``SimulatedUser("ritm")``: one click per round at the
  arg-max of the padded L2 distance transform of the false negatives or false positives, whichever has the larger
  maximum, a tie negative; up to 20, stopping at IoU 0.90) on a folder set with real alphas (``--set``);
- ``rounds``: mean SAD and IoU after each of 5 rounds of 3 clicks (``SimulatedUser("click", seed=--seed)``:
  round 1 drawn from the ground truth, later rounds in the largest error regions; a round with no error left ends
  the play and its last alpha is carried), beside mattekit's trimap-based SAD (``trimap1``) on the same photos;
- ``scenes``: three-person scenes (``mattekit.data.synthesis``, people from portraits-pseudo) over the
  backgrounds whose names start with the letters ``--letters`` (a-m tune, n-z report), at ``--size``: mean IoU
  with the meant person after one Box (``SimulatedUser("box")``: the box of alpha > 0.5) or one positive Click
  (RITM's first click: the distance-transform maximum of the person's alpha > 0.5), a fresh session each;
  ``--scene-seed`` draws other scenes (people, places) over the same backgrounds (tuning: a-m with seeds 0, 1);
- ``oracle``: the refinement's ceiling on ``--set``: the ground truth's alpha > 0.5 at the working size as the
  capture's mask, through the engine's trimap (``refinement_trimap``, with the segmenter's prior) and focus, beside
  the default engine given a trimap from the ground truth (``band``: alpha > 0.5 eroded and dilated by 3 px, and
  every pixel within 3 px of one with 0.02 < alpha < 0.98, unknown) and, where the set has one, ``trimap1``;
- ``speed``: seconds (wall and CPU) of 4 rounds of the click user on a 1920x1080 scene (round 1 includes the
  session's start), played twice: in the process's first session (whose round 1 also pays the imports of
  pymatting's numba kernels and the loading of the segmenters), then in a second session on the same image (the
  per-image cost of an application already running).

``--limit N`` keeps the first N images of ``--set`` (a quick check).

    PYTHONPATH=src .venv/bin/python bench/interactive_engine.py --parts ritm,rounds --set alphamatting
    PYTHONPATH=src .venv/bin/python bench/interactive_engine.py --parts scenes --letters n-z --scenes 10
    PYTHONPATH=src .venv/bin/python bench/interactive_engine.py --parts oracle --set animals-pseudo
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from mattekit.data.datasets import open_dataset
from mattekit.data.synthesis import synthesize
from mattekit.engines.interactive import InteractiveEngine, refinement_trimap
from mattekit.evaluation.interactive import iou, noc
from mattekit.evaluation.metrics import evaluate
from mattekit.interactive.session import Session
from mattekit.interactive.simulate import SimulatedUser, play
from mattekit.io import load_alpha, load_image
from mattekit.matting.focus import solve_focus
from mattekit.matting.trimap import BACKGROUND, FOREGROUND, UNKNOWN, disk

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class Prepared:
    """``engine`` with one image's state prepared once, so that several sessions on that image share it."""

    def __init__(self, engine, image: np.ndarray):
        self.engine, self.state = engine, engine.prepare(image)

    def prepare(self, image: np.ndarray):
        return self.state

    def round(self, image: np.ndarray, state, given):
        return self.engine.round(image, state, given)


def samples(set_name: str, limit: int | None = None):
    kind = "alphamatting" if set_name == "alphamatting" else "folder"
    dataset = open_dataset(f"{kind}:{DATA / set_name}", "trimap1" if kind == "alphamatting" else None)
    return [dataset.load(name) for name in dataset.names[:limit]]


def run_ritm(engine, set_name: str, limit: int | None) -> None:
    nocs85, nocs90, user = [], [], SimulatedUser("ritm")
    for sample in samples(set_name, limit):
        ious = [r.iou for r in play(lambda image: Session(image, engine), sample.image, sample.alpha, sample.name,
                                    user)]
        nocs85.append(noc(ious, 0.85))
        nocs90.append(noc(ious, 0.90))
        print(f"  {sample.name}: NoC@90 {nocs90[-1]}, IoU {' '.join(f'{v:.3f}' for v in ious[:6])}", flush=True)
    print(f"{set_name} RITM: NoC@85 {np.mean(nocs85):.2f}, NoC@90 {np.mean(nocs90):.2f} over {len(nocs90)}")


def run_rounds(engine, set_name: str, limit: int | None, seed: int, rounds: int = 5) -> None:
    sads, ious, trimap_sads = np.zeros((0, rounds)), np.zeros((0, rounds)), []
    user = SimulatedUser("click", seed=seed, rounds=rounds)
    for sample in samples(set_name, limit):
        played = play(lambda image: Session(image, engine), sample.image, sample.alpha, sample.name, user)
        alphas = [r.alpha for r in played] + [played[-1].alpha] * (rounds - len(played))
        row_sad = [evaluate(alpha, sample.alpha)["sad"] for alpha in alphas]
        sads, ious = np.vstack([sads, row_sad]), np.vstack([ious, [iou(a, sample.alpha) for a in alphas]])
        if sample.trimap is not None:
            trimap_sads.append(evaluate(engine.predict(sample.image, sample.trimap).alpha, sample.alpha)["sad"])
        print(f"  {sample.name}: SAD {' '.join(f'{v:.1f}' for v in row_sad)}"
              + (f" | trimap {trimap_sads[-1]:.1f}" if trimap_sads else ""), flush=True)
    print(f"{set_name} {rounds}x{user.kind}s: SAD per round {np.round(sads.mean(0), 2).tolist()}, "
          f"IoU per round {np.round(ious.mean(0), 4).tolist()}")
    if trimap_sads:
        print(f"  trimap1 SAD {np.mean(trimap_sads):.2f}; ratio after round {rounds}: "
              f"{sads[:, -1].mean() / np.mean(trimap_sads):.3f}")


def truth_trimap(alpha: np.ndarray, radius: int = 3) -> np.ndarray:
    """A trimap from a ground-truth alpha: alpha > 0.5 eroded and dilated by ``radius``, and every pixel within
    ``radius`` of a soft one (0.02 < alpha < 0.98), unknown."""
    solid, kernel = (alpha > 0.5).astype(np.uint8), disk(radius)
    soft = ((alpha > 0.02) & (alpha < 0.98)).astype(np.uint8)
    trimap = np.where(solid > 0, FOREGROUND, BACKGROUND).astype(np.uint8)
    trimap[(cv2.dilate(solid, kernel) != cv2.erode(solid, kernel)) | (cv2.dilate(soft, kernel) > 0)] = UNKNOWN
    return trimap


def run_oracle(engine, set_name: str, limit: int | None) -> None:
    rows = []
    for sample in samples(set_name, limit):
        state = engine.prepare(sample.image)
        mask = cv2.resize(sample.alpha, state.shape[::-1], interpolation=cv2.INTER_AREA) > 0.5
        trimap = refinement_trimap(mask, state.probability()[0], sample.alpha.shape)
        alphas = [solve_focus(sample.image, trimap, engine.focus_pixels),
                  engine.predict(sample.image, truth_trimap(sample.alpha)).alpha]
        if sample.trimap is not None:
            alphas.append(engine.predict(sample.image, sample.trimap).alpha)
        rows.append([evaluate(alpha, sample.alpha)["sad"] for alpha in alphas])
        print(f"  {sample.name}: SAD " + ", ".join(f"{name} {v:.1f}" for name, v in zip(("oracle", "band", "trimap1"),
                                                                                      rows[-1])), flush=True)
    means = np.mean(rows, axis=0)
    print(f"{set_name} oracle capture: SAD {means[0]:.2f}; ground-truth band trimap {means[1]:.2f} (ratio "
          f"{means[0] / means[1]:.3f})" + (f"; trimap1 {means[2]:.2f} (ratio {means[0] / means[2]:.3f})"
                                            if len(means) > 2 else ""))


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


def run_scenes(engine, letters: str, count: int, size: tuple[int, int], seed: int = 0) -> None:
    results = {"box": [], "click": []}
    users = {"box": SimulatedUser("box"), "click": SimulatedUser("ritm")}
    for k, scene in enumerate(make_scenes(letters, count, size, seed)):
        prepared = Prepared(engine, scene.image)
        line = []
        for index, alpha in enumerate(scene.alphas):
            for kind, user in users.items():
                prompts = user.first_round(alpha, f"scene {k}", instance=index)
                results[kind].append(iou(Session(scene.image, prepared).round(prompts).alpha, alpha))
                line.append(f"{kind} {results[kind][-1]:.3f}")
        print(f"  scene {k}: {', '.join(line)}", flush=True)
    print(f"scenes {letters} (seed {seed}) at {size[0]}x{size[1]}: " + ", ".join(
        f"{kind} IoU {np.mean(v):.3f} (min {np.min(v):.3f}, n={len(v)})" for kind, v in results.items()))


def run_speed(engine) -> None:
    scene = make_scenes("a-z", 1, (1920, 1080), seed=1)[0]
    user = SimulatedUser("click", rounds=4)
    for session, when in ((1, "the process's first session: imports, model loading"), (2, "a later session")):
        print(f"session {session} ({when}):")
        for r in play(lambda image: Session(image, engine), scene.image, scene.alphas[-1], "speed", user):
            print(f"  1080p round {r.round}: {r.seconds:.2f} s wall, {r.cpu_seconds:.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="ritm,rounds,scenes,speed")
    parser.add_argument("--set", default="alphamatting")
    parser.add_argument("--letters", default="n-z")
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of --set")
    parser.add_argument("--seed", type=int, default=0, help="the click user's seed (rounds)")
    parser.add_argument("--scene-seed", type=int, default=0, help="the scenes' draw (0 is the one reported)")
    args = parser.parse_args()
    engine = InteractiveEngine()
    size = tuple(int(v) for v in args.size.split("x"))
    parts = args.parts.split(",")
    if "ritm" in parts:
        run_ritm(engine, args.set, args.limit)
    if "rounds" in parts:
        run_rounds(engine, args.set, args.limit, args.seed)
    if "scenes" in parts:
        run_scenes(engine, args.letters, args.scenes, size, args.scene_seed)
    if "oracle" in parts:
        run_oracle(engine, args.set, args.limit)
    if "speed" in parts:
        run_speed(engine)


if __name__ == "__main__":
    main()
