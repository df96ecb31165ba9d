"""The gfm engine on real photos with and without keeping freed memory: seconds and peak memory.

Each mode runs in a fresh process (the setting is process-wide): GFM-TT(r34) with random weights, default
``hybrid`` strategy, no colour estimation, over the photos of ../shared/data (animals, portraits, alphamatting;
three of each), each photo twice. ``keep`` is what the engine does on CPU; ``glibc`` leaves malloc as it is.

    .venv/bin/python bench/gfm_keep_memory.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RUN = """
import resource, sys, tempfile, time
from pathlib import Path
import torch
import mattekit.engines.gfm as gfm
from mattekit.io import load_image
from mattekit.models.gfm import GFM
if sys.argv[1] == "glibc":
    gfm.keep_freed_memory = lambda: False
data = Path(sys.argv[2])
photos = [p for folder in ("animals-pseudo", "portraits-pseudo", "alphamatting")
          for p in sorted((data / folder / "image").iterdir())[:3]]
with tempfile.TemporaryDirectory() as tmp:
    torch.manual_seed(0)
    torch.save(GFM("r34", "tt").state_dict(), f"{tmp}/w.pth")
    engine = gfm.GFMEngine(f"{tmp}/w.pth", foreground=False, device="cpu")
images = [load_image(p) for p in photos]
tick = time.perf_counter()
for image in images * 2:
    engine.predict(image)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
print(f"| {sys.argv[1]} | {len(images) * 2} | {time.perf_counter() - tick:.1f} | {peak:.2f} |")
"""


def main() -> None:
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    print("| malloc | photos matted | seconds | peak memory GB |")
    print("|---|---|---|---|")
    for mode in ("keep", "glibc", "keep", "glibc"):
        subprocess.run([sys.executable, "-c", RUN, mode, str(data)], check=True)


if __name__ == "__main__":
    main()
