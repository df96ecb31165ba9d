"""The one-command demo: matte two real photos shipped with scikit-image (a cat and a portrait).

Example:
    >>> run_demo("demo-output")     # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path

from mattekit import io
from mattekit.batch import write_outputs
from mattekit.engines import load_engine

DEMO_BACKGROUND = "#2f6f8f"


def demo_images():
    """(name, uint8 RGB image) pairs: scikit-image's ``chelsea`` (a cat) and ``astronaut`` (a portrait)."""
    from skimage import data

    return [("chelsea", data.chelsea()), ("astronaut", data.astronaut())]


def run_demo(out_dir: str | Path, engine_name: str = "default") -> list[Path]:
    """Matte the demo photos, write alpha, cut-out and a composite over a new background, and print timings."""
    out_dir = io.output_folder(out_dir)  # before the engine is built
    start = time.perf_counter()
    engine = load_engine(engine_name)
    print(f"engine {engine_name!r} ready ({time.perf_counter() - start:.2f} s)")
    written = []
    for name, image in demo_images():
        start = time.perf_counter()
        matte = engine.predict(image)
        paths = write_outputs(out_dir, name, image, matte, DEMO_BACKGROUND)
        print(f"{name} ({image.shape[1]}x{image.shape[0]}): {time.perf_counter() - start:.2f} s")
        for path in paths:
            print(f"  {path}")
        written += paths
    return written
