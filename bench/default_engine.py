"""Benchmark of the default engine against its parts and against closed-form matting, on the shared real data.

Runs, in one process, on ``../shared/data``:
- trimap-free: the default engine, MODNet alone and U²-Netp alone on alphamatting, portraits-pseudo and
  animals-pseudo;
- trimap-based: the default engine with a trimap and pymatting's ``estimate_alpha_cf`` on alphamatting with
  ``trimap1`` and ``trimap2``.
It prints a markdown table of mean SAD (whole image, /1000), MSE, MAD, IoU (alpha > 0.5) and seconds per image,
then the per-image SADs of the trimap-free runs and which glance the engine chose.

    .venv/bin/python bench/default_engine.py [--data ../shared/data] [--sets alphamatting,...]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
from pymatting import estimate_alpha_cf

from mattekit.data.datasets import open_dataset
from mattekit.engines.default import DefaultEngine, choose_glance
from mattekit.evaluation.interactive import iou
from mattekit.evaluation.metrics import evaluate

TRIMAP_FREE_SETS = ("alphamatting", "portraits-pseudo", "animals-pseudo")


def scores(alpha: np.ndarray, truth: np.ndarray, seconds: float) -> dict[str, float]:
    found = evaluate(alpha, truth, protocol="gfm")
    return {"sad": found["sad"], "mse": found["mse"], "mad": found["mad"], "iou": iou(alpha, truth), "s": seconds}


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def run(data: Path, sets: list[str]) -> None:
    engine = DefaultEngine()
    results: dict[tuple[str, str], list[dict]] = defaultdict(list)
    per_image: list[str] = []
    engine.predict(np.zeros((64, 64, 3), np.uint8))  # load both networks and compile pymatting before timing
    for set_name in sets:
        kind = "alphamatting" if set_name == "alphamatting" else "folder"
        dataset = open_dataset(f"{kind}:{data / set_name}", "trimap1" if kind == "alphamatting" else None)
        for sample in dataset:
            matte, seconds = timed(engine.predict, sample.image)
            results[(set_name, "default engine")].append(scores(matte.alpha, sample.alpha, seconds))
            modnet, seconds = timed(engine.modnet.probability, sample.image)
            results[(set_name, "MODNet alone")].append(scores(modnet, sample.alpha, seconds))
            u2netp, seconds = timed(engine.u2netp.probability, sample.image)
            results[(set_name, "U²-Netp alone")].append(scores(u2netp, sample.alpha, seconds))
            per_image.append(f"| {set_name} | {sample.name} | {sample.image.shape[1]}x{sample.image.shape[0]} | "
                             + " | ".join(f"{results[(set_name, m)][-1]['sad']:.2f}" for m in
                                          ("default engine", "MODNet alone", "U²-Netp alone"))
                             + f" | {choose_glance(modnet, u2netp)} |")
            print(per_image[-1], flush=True)
    if "alphamatting" in sets:
        for split in ("trimap1", "trimap2"):
            for sample in open_dataset(f"alphamatting:{data / 'alphamatting'}", split):
                matte, seconds = timed(engine.predict, sample.image, sample.trimap)
                results[(f"alphamatting + {split}", "default engine (trimap)")].append(
                    scores(matte.alpha, sample.alpha, seconds))
                closed, seconds = timed(estimate_alpha_cf, sample.image / 255.0, sample.trimap / 255.0)
                results[(f"alphamatting + {split}", "pymatting closed-form")].append(
                    scores(closed.astype(np.float32), sample.alpha, seconds))
                latest = {m: results[(f"alphamatting + {split}", m)][-1]["sad"]
                          for m in ("default engine (trimap)", "pymatting closed-form")}
                print(f"{split} {sample.name}: ours {latest['default engine (trimap)']:.2f} "
                      f"closed-form {latest['pymatting closed-form']:.2f}", flush=True)

    print(f"\n{date.today()}, {platform.machine()} CPU ({os.cpu_count()} cores), "
          "`.venv/bin/python bench/default_engine.py`\n")
    print("| set | method | images | SAD | MSE | MAD | IoU | s/image |\n|---|---|---|---|---|---|---|---|")
    for (set_name, method), rows in results.items():
        mean = {k: np.mean([r[k] for r in rows]) for k in rows[0]}
        print(f"| {set_name} | {method} | {len(rows)} | {mean['sad']:.2f} | {mean['mse']:.4f} | {mean['mad']:.4f} | "
              f"{mean['iou']:.3f} | {mean['s']:.2f} |")
    print("\n| set | image | size | SAD default | SAD MODNet | SAD U²-Netp | glance chosen |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(per_image))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--sets", default=",".join(TRIMAP_FREE_SETS))
    args = parser.parse_args()
    run(args.data, args.sets.split(","))
