"""Materialise a COMP-Track set on disk (``mattekit compose``): full-resolution composites and their manifest.

``OUT/image``, ``OUT/alpha``, ``OUT/fg`` and ``OUT/bg`` get one PNG per sample (``<foreground>_<slot>.png``; ``fg``
and ``bg`` are the colours Eq. 1 composed, noise included, so ``image = α·fg + (1 − α)·bg`` up to rounding), and
``OUT/manifest.jsonl`` one line per sample: ``name, index, fg, bg, seed, mode, denoise, blur_kernel,
noise_sigma``. ``OUT/compose.json`` holds the settings; a run over an existing OUT must use the same ones.

The run is reproducible (per-sample seeds, see ``comp_track``), resumable (a sample whose four files and manifest
line exist is skipped; files are written atomically) and parallel: first the BM3D copies that the drawn recipes
need are computed, ``workers`` at a time, then the samples. The manifest is rewritten in index order at the end,
so the same seed gives byte-identical output.

Example:
    >>> track = CompTrack("fgs", "bgs", mode="rssn", per_foreground=5, seed=0)    # doctest: +SKIP
    >>> write_comp_track(track, "comp-rssn", workers=2)                            # doctest: +SKIP
    {'written': 50, 'skipped': 0, 'denoised': 31}
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mattekit import io, kernels
from mattekit.data.comp_track import CompTrack, denoise_jobs, precompute
from mattekit.data.composition import compose_full, draw_recipe

FOLDERS = ("image", "alpha", "fg", "bg")


def settings(track: CompTrack) -> dict:
    """What decides the content of a COMP-Track set (compared when a run resumes)."""
    return {"mode": track.mode, "seed": track.seed, "per_foreground": track.per_foreground,
            "pairing": track.pairing, "foreground_method": track.pixels.foreground_method,
            "bm3d_profile": track.pixels.bm3d_profile,
            "foregrounds": [fg.name for fg in track.foregrounds],
            "backgrounds": [bg.name for bg in track.backgrounds]}


def sample_name(track: CompTrack, index: int) -> str:
    return f"{track.foregrounds[index // track.per_foreground].name}_{index % track.per_foreground}"


def compose_sample(track: CompTrack, index: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The manifest record and uint8 arrays (image, alpha, fg, bg) of sample ``index`` at full resolution."""
    plan = track.plan(index)
    rng = np.random.default_rng(plan.seed)
    recipe = draw_recipe(rng, track.mode)
    alpha = np.asarray(track.pixels.alpha(plan.foreground))
    colours = track.pixels.colours(plan.foreground, recipe.denoise)
    bg = track.pixels.background(plan.background, recipe.denoise)
    out = compose_full(np.asarray(colours), alpha.astype(np.float32) / 255.0, np.asarray(bg), recipe, rng)
    arrays = {k: np.round(out[k]).astype(np.uint8) for k in ("image", "fg", "bg")}
    arrays["alpha"] = alpha
    record = {"name": sample_name(track, index), "index": index, "fg": plan.foreground.name,
              "bg": plan.background.name, "seed": plan.seed, "mode": track.mode, **recipe.record()}
    return record, arrays


def _write(out: Path, record: dict, arrays: dict[str, np.ndarray]) -> None:
    for folder in FOLDERS:
        path = out / folder / f"{record['name']}.png"
        (io.save_alpha if folder == "alpha" else io.save_image)(path, arrays[folder])


_WORKER: dict = {}


def _init_worker(track: CompTrack, out: Path) -> None:
    _WORKER.update(track=track, out=out)


def _make(index: int) -> dict:
    record, arrays = compose_sample(_WORKER["track"], index)
    _write(_WORKER["out"], record, arrays)
    return record


def _read_manifest(path: Path) -> dict[str, dict]:
    records = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interrupted run
                continue
            records[record["name"]] = record
    return records


def write_comp_track(track: CompTrack, out: str | os.PathLike, workers: int = 1, progress: bool = True) -> dict:
    """Write every sample of ``track`` under ``out``; returns counts of written, skipped and denoised images."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    io.record_settings(out / "compose.json", settings(track))
    for folder in (out, *(out / f for f in FOLDERS)):
        io.remove_leftovers(folder)  # of a run that was killed
    manifest = out / "manifest.jsonl"
    records = _read_manifest(manifest)
    todo = [i for i in range(len(track)) if not _done(out, records.get(sample_name(track, i)))]
    if todo:
        kernels.prepare()  # estimating colours needs them: compiled here once, not in every worker
    plans = [track.plan(i) for i in todo]
    needs = [p for p in plans if draw_recipe(np.random.default_rng(p.seed), track.mode).denoise]
    jobs = denoise_jobs([p.foreground for p in needs], [p.background for p in needs])
    denoised = precompute(track.pixels, jobs, workers, progress)
    with open(manifest, "a") as log, tqdm(total=len(todo), desc="compose", unit="image",
                                           disable=not progress) as bar:
        def keep(record):
            records[record["name"]] = record
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.update()

        if workers <= 1:
            _init_worker(track, out)
            for index in todo:
                keep(_make(index))
        else:
            context = multiprocessing.get_context("forkserver")  # no fork of a process that may hold threads
            with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(track, out)) as pool:
                for done in as_completed([pool.submit(_make, index) for index in todo]):
                    keep(done.result())
    ordered = sorted(records.values(), key=lambda r: r["index"])
    io.write_text(manifest, "".join(json.dumps(r) + "\n" for r in ordered))
    return {"written": len(todo), "skipped": len(track) - len(todo), "denoised": denoised}


def _done(out: Path, record: dict | None) -> bool:
    return record is not None and all((out / f / f"{record['name']}.png").is_file() for f in FOLDERS)


def compose_set(fg_dir, bg_dir, out, workers: int = 1, progress: bool = True, **track_options) -> dict:
    """``write_comp_track(CompTrack(fg_dir, bg_dir, **track_options), out, workers, progress)``."""
    return write_comp_track(CompTrack(fg_dir, bg_dir, **track_options), out, workers, progress)
