"""Matting many files: outputs named after their inputs, written atomically, one failure never stopping the rest.

Every file is matted, refused in one sentence (``BatchReport.failed``: it cannot be decoded, it would not fit in
memory (``mattekit.budget``), the engine ran out of memory) or skipped with the reason (``BatchReport.skipped``:
its outputs exist, or a folder's file that is not an image). The engine may be given as a function that builds it,
which is then called only once an input has decoded, so a run that only refuses files never loads a model.

For each input ``<stem>`` the outputs are ``<stem>.alpha.png`` (8-bit grey), ``<stem>.cutout.png`` (RGBA, straight
alpha, estimated foreground colours) and, with a background, ``<stem>.composite.png``.

Example:
    >>> from mattekit.engines import load_engine                                # doctest: +SKIP
    >>> report = predict_files(["photos/"], "out", load_engine("default"))      # doctest: +SKIP
    >>> report.failed                                                           # doctest: +SKIP
    {}
    >>> predict_files(["photos/"], "out", lambda: load_engine("gfm", "gfm.pth"))  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mattekit import io
from mattekit.budget import DEFAULT_BUDGET, check_fits
from mattekit.engines import built
from mattekit.errors import InputError, MattekitError
from mattekit.matte import Matte


def output_paths(out_dir: Path, stem: str, with_composite: bool) -> list[Path]:
    kinds = ("alpha", "cutout", "composite") if with_composite else ("alpha", "cutout")
    return [out_dir / f"{stem}.{kind}.png" for kind in kinds]


def write_outputs(out_dir: Path, stem: str, image: np.ndarray, matte: Matte, background: str | None) -> list[Path]:
    """Write the alpha, cut-out and (with ``background``) composite of one image; all or none of them."""
    paths = output_paths(out_dir, stem, background is not None)
    cutout = matte.cutout()
    images = [cutout[..., 3], cutout]
    if background is not None:
        images.append(matte.composite(io.parse_background(background, image.shape[:2])))
    written = []
    try:
        for path, data in zip(paths, images):
            (io.save_alpha if data.ndim == 2 else io.save_image)(path, data)
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return paths


def shrink(image: np.ndarray, max_size: int | None) -> np.ndarray:
    """``image`` resized so its long side is at most ``max_size`` (unchanged if already small enough)."""
    long_side = max(image.shape[:2])
    if not max_size or long_side <= max_size:
        return image
    scale = max_size / long_side
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def find_trimap(trimap: Path, stem: str) -> Path:
    """``trimap`` itself, or the file of that stem in the folder ``trimap``."""
    if not trimap.is_dir():
        return trimap
    matches = [p for p in trimap.iterdir() if p.stem == stem and p.suffix.lower() in io.IMAGE_SUFFIXES]
    if not matches:
        raise InputError(f"{trimap} has no trimap named {stem} (with an image suffix).")
    return matches[0]


@dataclass
class BatchReport:
    done: list[Path] = field(default_factory=list)
    skipped: dict[Path, str] = field(default_factory=dict)  # path -> why it was skipped
    failed: dict[Path, str] = field(default_factory=dict)  # path -> the sentence that refused it


def predict_files(inputs, out_dir, engine, trimap=None, background: str | None = None, max_size: int | None = None,
                  skip_existing: bool = False, max_pixels: int | None = None, debug: bool = False,
                  max_memory: int | None = None) -> BatchReport:
    """Matte every image in ``inputs`` (files or folders) with ``engine`` (or a function that builds it) and write
    the outputs to ``out_dir``.

    ``trimap`` is a file (one input) or a folder of trimaps matched by stem. With ``max_size`` the long side is
    limited before matting (outputs have the reduced size). Images whose outputs exist are skipped with
    ``skip_existing``. An image whose estimated memory (the engine's ``budget``) exceeds ``max_memory`` bytes (default:
    the memory available) is refused. A failing image is recorded in the report and the others go on.
    """
    paths, skipped = io.list_inputs(inputs)
    out_dir, report = Path(out_dir), BatchReport(skipped=skipped)
    if out_dir.is_dir():
        io.remove_leftovers(out_dir)  # of a run that was killed
    if trimap is not None and not Path(trimap).is_dir() and len(paths) > 1:
        raise InputError(f"one trimap file ({trimap}) was given for {len(paths)} images; pass a folder of trimaps "
                         "named like the images.")
    bar = tqdm(paths, unit="image", disable=len(paths) < 2, file=sys.stderr)
    for path in bar:
        if skip_existing and all(p.exists() for p in output_paths(out_dir, path.stem, background is not None)):
            report.skipped[path] = "its outputs exist"
            continue
        start = time.perf_counter()
        try:
            original = io.load_image(path, max_pixels)
            guide = None if trimap is None else io.load_trimap(find_trimap(Path(trimap), path.stem), original.shape[:2])
        except MattekitError as e:
            report.failed[path] = str(e)
            continue
        engine = built(engine)  # outside the per-image handling: an engine that cannot be built ends the run
        try:
            image = shrink(original, max_size)
            del original
            check_fits(str(path), image.shape[:2], getattr(engine, "budget", DEFAULT_BUDGET), max_memory)
            if guide is not None and guide.shape != image.shape[:2]:
                guide = cv2.resize(guide, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
            written = write_outputs(out_dir, path.stem, image, engine.predict(image, guide), background)
        except MattekitError as e:
            report.failed[path] = str(e)
            continue
        except MemoryError:
            report.failed[path] = (f"{path} ran out of memory while being matted; shrink it with --max-size or "
                                   "lower --max-memory so that such images are refused before they start.")
            continue
        except Exception as e:  # a bug or a library failure on this file: report it, go on with the others
            if debug:
                raise
            report.failed[path] = f"{path}: unexpected {type(e).__name__}: {e}"
            continue
        report.done.append(path)
        tqdm.write(f"{path} -> {written[0].parent}/{path.stem}.*.png ({time.perf_counter() - start:.2f} s)",
                   file=sys.stderr)
    return report
