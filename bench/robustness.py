"""Robustness benchmark: fuzzed files and large photos through `mattekit predict` with the default engine.

Two measurements, each `mattekit predict` in a fresh process (its peak resident memory from ``getrusage``):
- a batch of fuzzed files (``tests/fuzz_files.py``: every format and mode Pillow writes, bit flips, truncations,
  splices, scrambled headers, 1x1 ... 4000x2), counting the files matted, refused in one sentence, and anything
  else (a traceback or an "unexpected" error, which should never happen);
- one photo resized to several sizes up to 12 megapixels, for the memory per megapixel behind the default engine's
  budget (``mattekit.budget``).

    PYTHONPATH=src .venv/bin/python bench/robustness.py [--count 300] [--max-side 96] [--photo PATH] [--sizes 0.4,3,12]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fuzz_files import generate  # noqa: E402

RUN = ("import resource, sys; from mattekit.cli import main; code = main(sys.argv[1:]); "
       "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)")


def predict(*arguments: str) -> tuple[str, str, float, float, float]:
    """(stdout, stderr, peak MiB, wall s, CPU s) of one `mattekit predict` run in a fresh process."""
    start, cpu = time.perf_counter(), os.times()
    done = subprocess.run([sys.executable, "-c", RUN, "predict", *arguments], capture_output=True, text=True)
    after = os.times()
    *lines, peak = done.stdout.splitlines()
    cpu_s = after.children_user + after.children_system - cpu.children_user - cpu.children_system
    return "\n".join(lines), done.stderr, int(peak) / 1024, time.perf_counter() - start, cpu_s


def fuzz(count: int, max_side: int, folder: Path) -> None:
    files = generate(folder / "in", count=count, seed=2026, max_side=max_side)
    stdout, stderr, peak, wall, cpu = predict(str(folder / "in"), "-o", str(folder / "out"))
    refused = [line for line in stderr.splitlines() if line.startswith("failed: ")]
    bad = [line for line in stderr.splitlines() if "Traceback" in line or "unexpected" in line]
    matted = int(re.search(r"^(\d+) of", stdout, re.M).group(1))
    print(f"| {count} fuzzed files (sides 1-{max_side}, 1x1 ... 4000x2) | {matted} matted | {len(refused)} refused "
          f"| {len(bad)} other | {peak:.0f} MiB | {wall:.0f} s wall, {cpu:.0f} s CPU |")
    assert matted + len(refused) == len(files) and not bad, bad[:5]


def sizes(photo: Path, megapixels: list[float], folder: Path) -> None:
    image = Image.open(photo).convert("RGB")
    for mp in megapixels:
        scale = (mp * 1e6 / (image.width * image.height)) ** 0.5
        path = folder / f"photo_{mp:g}mp.jpg"
        image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS).save(path)
        _, stderr, peak, wall, cpu = predict(str(path), "-o", str(folder / "out"), "--background", "white")
        assert "failed" not in stderr, stderr
        print(f"| {path.name} ({mp:g} MP) | matted | | | {peak:.0f} MiB | {wall:.0f} s wall, {cpu:.0f} s CPU |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--max-side", type=int, default=96)
    parser.add_argument("--photo", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/data/alphamatting/image/GT01.png")
    parser.add_argument("--sizes", default="0.4,3,12")
    args = parser.parse_args()
    print("| input | matted | refused | other | peak memory | time |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        if args.count:
            fuzz(args.count, args.max_side, Path(tmp))
        if args.photo.is_file() and args.sizes:
            sizes(args.photo, [float(v) for v in args.sizes.split(",")], Path(tmp))


if __name__ == "__main__":
    main()
