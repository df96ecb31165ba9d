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

    def add(self, outcome: Outcome) -> None:
        """Record one image's outcome."""
        if outcome.kind == "done":
            self.done.append(outcome.path)
        else:
            (self.skipped if outcome.kind == "skipped" else self.failed)[outcome.path] = outcome.message

    def in_order(self, paths: list[Path]) -> BatchReport:
        """This report with each list in the order of ``paths`` (outcomes that arrived in any order)."""
        rank = {path: i for i, path in enumerate(paths)}

        def by_rank(item):  # a folder's files that are not images first, as they were listed
            return rank.get(item[0], -1)

        return BatchReport(sorted(self.done, key=rank.__getitem__), dict(sorted(self.skipped.items(), key=by_rank)),
                           dict(sorted(self.failed.items(), key=by_rank)))


@dataclass
class Outcome:
    """What happened to one input: ``kind`` is done, skipped or failed; ``message`` the reason or the sentence."""

    path: Path
    kind: str
    message: str = ""
    seconds: float = 0.0


@dataclass
class ImageMatting:
    """The work of a batch on one input, the same for the local loop and a Ray actor: skip it if its outputs exist,
    decode it (and its trimap), shrink it, check it fits in memory, matte it, write its outputs atomically.

    ``engine`` is an engine, or a function that builds it; it is built once, when the first input has decoded, so a
    run that only refuses files never loads a model (an engine that cannot be built raises, ending the run). Every
    other failure of one input is its ``Outcome``, with one sentence.

    >>> work = ImageMatting("out", engine=lambda: None)
    >>> work(Path("missing.png")).message
    'missing.png does not exist or is not a file.'
    """

    out_dir: Path
    engine: object
    trimap: str | Path | None = None
    background: str | None = None
    max_size: int | None = None
    skip_existing: bool = False
    max_pixels: int | None = None
    max_memory: int | None = None
    debug: bool = False

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)

    def __call__(self, path: str | Path) -> Outcome:
        path = Path(path)
        if self.skip_existing and all(p.exists() for p in output_paths(self.out_dir, path.stem,
                                                                        self.background is not None)):
            return Outcome(path, "skipped", "its outputs exist")
        start = time.perf_counter()
        try:
            original = io.load_image(path, self.max_pixels)
            guide = None if self.trimap is None else io.load_trimap(find_trimap(Path(self.trimap), path.stem),
                                                                     original.shape[:2])
        except MattekitError as e:
            return Outcome(path, "failed", str(e))
        self.engine = built(self.engine)  # outside the per-image handling: an engine that cannot be built ends the run
        try:
            image = shrink(original, self.max_size)
            del original  # the full-size image is not needed while matting
            self._matte(path, image, guide)
        except MattekitError as e:
            return Outcome(path, "failed", str(e))
        except MemoryError:
            return Outcome(path, "failed", f"{path} ran out of memory while being matted; shrink it with --max-size "
                           "or lower --max-memory so that such images are refused before they start.")
        except Exception as e:  # a bug or a library failure on this file: report it, go on with the others
            if self.debug:
                raise
            return Outcome(path, "failed", f"{path}: unexpected {type(e).__name__}: {e}")
        return Outcome(path, "done", seconds=time.perf_counter() - start)

    def _matte(self, path: Path, image: np.ndarray, guide: np.ndarray | None) -> None:
        check_fits(str(path), image.shape[:2], getattr(self.engine, "budget", DEFAULT_BUDGET), self.max_memory)
        if guide is not None and guide.shape != image.shape[:2]:
            guide = cv2.resize(guide, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        write_outputs(self.out_dir, path.stem, image, self.engine.predict(image, guide), self.background)


def plan(inputs, out_dir, trimap=None) -> tuple[list[Path], BatchReport]:
    """The images of ``inputs`` to matte and a report holding the files skipped as not images; the temporary files
    of a killed run are removed from ``out_dir``. One trimap file for several images is a usage mistake."""
    paths, skipped = io.list_inputs(inputs)
    if Path(out_dir).is_dir():
        io.remove_leftovers(out_dir)  # of a run that was killed
    if trimap is not None and not Path(trimap).is_dir() and len(paths) > 1:
        raise InputError(f"one trimap file ({trimap}) was given for {len(paths)} images; pass a folder of trimaps "
                         "named like the images.")
    return paths, BatchReport(skipped=skipped)


def follow(outcomes, total: int, out_dir: Path, report: BatchReport) -> BatchReport:
    """Record ``outcomes`` (in any order) in ``report``, with a progress bar and a line per image matted."""
    with tqdm(outcomes, total=total, unit="image", disable=total < 2, file=sys.stderr) as bar:
        for outcome in bar:
            report.add(outcome)
            if outcome.kind == "done":
                tqdm.write(f"{outcome.path} -> {Path(out_dir)}/{outcome.path.stem}.*.png ({outcome.seconds:.2f} s)",
                           file=sys.stderr)
    return report


def predict_files(inputs, out_dir, engine, trimap=None, background: str | None = None, max_size: int | None = None,
                  skip_existing: bool = False, max_pixels: int | None = None, debug: bool = False,
                  max_memory: int | None = None) -> BatchReport:
    """Matte every image in ``inputs`` (files or folders) with ``engine`` (or a function that builds it) and write
    the outputs to ``out_dir``.

    ``trimap`` is a file (one input) or a folder of trimaps matched by stem. With ``max_size`` the long side is
    limited before matting (outputs have the reduced size). Images whose outputs exist are skipped with
    ``skip_existing``. An image whose estimated memory (the engine's ``budget``) exceeds ``max_memory`` bytes (default:
    the memory available) is refused. A failing image is recorded in the report and the others go on.
    ``mattekit.distributed.predict_files_ray`` does the same work on a Ray cluster.
    """
    paths, report = plan(inputs, out_dir, trimap)
    work = ImageMatting(out_dir, engine, trimap, background, max_size, skip_existing, max_pixels, max_memory, debug)
    return follow(map(work, paths), len(paths), out_dir, report)
