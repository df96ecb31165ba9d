"""RSSN composition speed: BM3D seconds per 1080p image, and GFM training samples per second in two orders.

Foregrounds: ``animals-pseudo`` (image + alpha, about 1080x1620; colours estimated by closed form once, as the
paper, and stored). Backgrounds: ``backgrounds`` (short side 1080). Every sample is a 320x320 RSSN crop with TT
targets, made by ``CompositeDataset`` from the files (decoding included):
- crop first (this package): crop, then resize, blur, compose, add noise and build targets at 320x320;
- official order: compose the full-resolution image (background fitted and blurred, noise), build the targets
  from the full-resolution alpha, then crop and resize.
Each order runs with ``decode_once`` (decoded copies memory-mapped from the pixel store after the first read) and
without (every file decoded for every sample), in one process and in two worker processes. The BM3D copies of
the chosen foregrounds and backgrounds are computed first (``--bm3d-profile``, low-complexity by default to spare
the shared machine; reading a stored copy costs the same whichever profile made it), so half of the samples read
denoised copies from the store.

Run: .venv/bin/python bench/composition_throughput.py [--foregrounds 2] [--backgrounds 4] [--samples 160]
     [--skip-bm3d-timing] [--data ../shared/data] [--store DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from mattekit.data.comp_track import Pixels, denoise_jobs, list_backgrounds, list_foregrounds, precompute
from mattekit.data.denoise import bm3d_denoise
from mattekit.data.gfm_samples import CompositeDataset
from mattekit.io import load_image


def subset(data: Path, folder: Path, foregrounds: int, backgrounds: int) -> tuple[Path, Path]:
    """Folders of symbolic links to the first foregrounds and backgrounds."""
    fg_dir, bg_dir = folder / "fgs", folder / "bgs"
    for part in ("image", "alpha"):
        (fg_dir / part).mkdir(parents=True)
    bg_dir.mkdir()
    for fg in list_foregrounds(data / "animals-pseudo")[:foregrounds]:
        (fg_dir / "image" / fg.image.name).symlink_to(fg.image)
        (fg_dir / "alpha" / fg.alpha.name).symlink_to(fg.alpha)
    for bg in list_backgrounds(data / "backgrounds")[:backgrounds]:
        (bg_dir / bg.name).symlink_to(bg)
    return fg_dir, bg_dir


def time_bm3d(path: Path) -> None:
    image = load_image(path)
    for profile in ("np", "lc"):
        start, cpu = time.perf_counter(), time.process_time()
        bm3d_denoise(image, profile)
        print(f"BM3D ({profile}) on {path.name} {image.shape[1]}x{image.shape[0]}: "
              f"{time.perf_counter() - start:.1f} s wall, {time.process_time() - cpu:.1f} s CPU", flush=True)


_DATA: dict = {}


def _init(dataset) -> None:
    _DATA["dataset"] = dataset


def _sample(index: int) -> int:
    dataset = _DATA["dataset"]
    dataset.set_epoch(index // len(dataset))
    return dataset[index % len(dataset)]["image"].shape[0]


def rate(dataset: CompositeDataset, samples: int, workers: int) -> tuple[float, float]:
    """Samples per wall-clock second and per CPU second of this process (one worker only; else 0) over
    ``samples`` draws (epochs change, so crops and recipes keep changing)."""
    indices = list(range(samples))
    start, cpu = time.perf_counter(), time.process_time()
    if workers == 1:
        for i in indices:
            dataset.set_epoch(i // len(dataset))
            dataset[i % len(dataset)]
    else:
        with multiprocessing.get_context("fork").Pool(workers, _init, (dataset,)) as pool:
            pool.map(_sample, indices, chunksize=8)
    per_cpu = samples / (time.process_time() - cpu) if workers == 1 else 0.0
    return samples / (time.perf_counter() - start), per_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--foregrounds", type=int, default=2)
    parser.add_argument("--backgrounds", type=int, default=4)
    parser.add_argument("--samples", type=int, default=160)
    parser.add_argument("--bm3d-profile", choices=("np", "lc"), default="lc")
    parser.add_argument("--store", help="pixel store (default: the mattekit cache's)")
    parser.add_argument("--skip-bm3d-timing", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    if not args.skip_bm3d_timing:
        time_bm3d(list_backgrounds(args.data / "backgrounds")[0])
    with tempfile.TemporaryDirectory() as tmp:
        fg_dir, bg_dir = subset(args.data, Path(tmp), args.foregrounds, args.backgrounds)
        pixels = Pixels(store=args.store, bm3d_profile=args.bm3d_profile)
        jobs = denoise_jobs(list_foregrounds(fg_dir), list_backgrounds(bg_dir))
        start = time.perf_counter()
        done = precompute(pixels, jobs, workers=2, progress=False)
        print(f"BM3D store: {done} copies computed ({len(jobs) - done} there already) in "
              f"{time.perf_counter() - start:.0f} s with 2 workers", flush=True)
        for order in ("crop", "full"):
            for decode_once in (True, False):
                dataset = CompositeDataset(fg_dir, bg_dir, rosta="tt", order=order, mode="rssn",
                                           per_foreground=args.backgrounds, seed=0, store=args.store,
                                           bm3d_profile=args.bm3d_profile, decode_once=decode_once)
                for i in range(len(dataset)):  # first reads: decoded copies enter the store, pages the cache
                    dataset[i]
                (one, per_cpu), (two, _) = (rate(dataset, args.samples, workers) for workers in (1, 2))
                name = "crop first" if order == "crop" else "official order"
                how = "decode once (memory-mapped store)" if decode_once else "decode every file every sample"
                print(f"{name:15s} {how:34s} 1 process {one:6.1f}/s ({per_cpu:6.1f} per CPU second)   "
                      f"2 processes {two:6.1f}/s", flush=True)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
