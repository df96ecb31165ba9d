"""Background curation, as BG-20k was built (Li et al., "Bridging Composite and
Real", IJCV 2022, arXiv:2010.16188, §4): large, unique photos without a salient subject.

``curate`` goes through the photos of a folder in name order and keeps one when
1. its shorter side has at least ``min_short_side`` pixels (it is then resized to exactly that, aspect kept);
2. it is not a near-duplicate of a photo kept before it: the perceptual hashes (64-bit DCT pHash) differ in more
   than ``max_distance`` bits (the paper matched with a deep model; a pHash catches resized, recompressed and
   slightly edited copies);
3. no salient subject covers more than ``salient_threshold`` of it: the fraction of pixels where a salient-object
   segmenter (U²-Netp by default) says above 0.5. The default 0.08 separates the project's test photos:
   calm backgrounds reach 0.06, animal and portrait photos start at 0.11 (see docs/benchmarks.md).

Kept photos are written to DST as PNG (lossless, atomically). ``DST/curation-report.csv`` lists every photo with
its decision and the reason; it is written as the run goes, so a stopped run resumes where it left off.

Example:
    >>> import numpy as np
    >>> stripes = np.tile((np.arange(64) // 8 % 2 * 255).astype(np.uint8), (64, 1))
    >>> image = np.repeat(stripes[..., None], 3, axis=2)
    >>> hamming(phash(image), phash(image[::-1])) > 0, hamming(phash(image), phash(image))
    (True, 0)
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from mattekit import io
from mattekit.data.samples import files_by_stem, require_dir
from mattekit.errors import InputError, MattekitError, UsageError

REPORT = "curation-report.csv"
MAX_DISTANCE = 8
SALIENT_THRESHOLD = 0.08


def phash(image: np.ndarray) -> int:
    """The 64-bit perceptual hash of uint8 RGB ``image``: signs of its 8×8 lowest DCT frequencies (at 32×32 grey)
    against their median."""
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low)
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """How many of the 64 bits of two hashes differ."""
    return (a ^ b).bit_count()


def salient_fraction(probability: np.ndarray) -> float:
    """The fraction of pixels that a segmenter's probability map puts above 0.5."""
    return float(np.mean(probability > 0.5))


def resize_short_side(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` resized (area averaging) so that its shorter side is ``side``, aspect ratio kept."""
    height, width = image.shape[:2]
    scale = side / min(height, width)
    if scale == 1:
        return image
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


@dataclass
class Verdict:
    """One row of the curation report."""

    file: str
    kept: bool
    reason: str
    width: int = 0
    height: int = 0
    phash: str = ""
    salient: float | None = None
    duplicate_of: str = ""


def _read_report(path: Path) -> dict[str, Verdict]:
    if not path.is_file():
        return {}
    done = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            row["kept"] = row["kept"] == "True"
            row["width"], row["height"] = int(row["width"] or 0), int(row["height"] or 0)
            row["salient"] = float(row["salient"]) if row["salient"] else None
            done[row["file"]] = Verdict(**row)
    return done


class Curator:
    """The checks of ``curate`` for one photo at a time; ``segmenter`` has ``.probability(image)``."""

    def __init__(self, dst: Path, min_short_side: int, max_distance: int, salient_threshold: float, segmenter):
        self.dst, self.min_short_side = dst, min_short_side
        self.max_distance, self.salient_threshold = max_distance, salient_threshold
        self.segmenter = segmenter
        self.kept: dict[str, int] = {}  # output name -> pHash

    def judge(self, path: Path) -> Verdict:
        try:
            with Image.open(path) as im:
                width, height = im.size
        except OSError:
            raise InputError(f"{path} is not an image that can be read.") from None
        if min(width, height) < self.min_short_side:
            return Verdict(path.name, False, f"too small: shorter side {min(width, height)} < "
                           f"{self.min_short_side}", width, height)
        image = resize_short_side(io.load_image(path), self.min_short_side)
        code = phash(image)
        verdict = Verdict(path.name, False, "", width, height, f"{code:016x}")
        for name, other in self.kept.items():
            if hamming(code, other) <= self.max_distance:
                verdict.reason, verdict.duplicate_of = f"near-duplicate ({hamming(code, other)} bits)", name
                return verdict
        verdict.salient = round(salient_fraction(self.segmenter.probability(image)), 4)
        if verdict.salient > self.salient_threshold:
            verdict.reason = f"salient subject: {verdict.salient:.1%} > {self.salient_threshold:.0%}"
            return verdict
        io.save_image(self.dst / f"{path.stem}.png", image)
        verdict.kept, verdict.reason = True, "kept"
        self.kept[path.name] = code
        return verdict


def curate(src: str | os.PathLike, dst: str | os.PathLike, min_short_side: int = 1080,
           max_distance: int = MAX_DISTANCE, salient_threshold: float = SALIENT_THRESHOLD, segmenter=None,
           weights: str | None = None, progress: bool = True) -> list[Verdict]:
    """Copy the good backgrounds of ``src`` into ``dst`` and report on every photo (see the module docstring).

    ``segmenter`` defaults to U²-Netp (``weights`` overrides its weight file); it is loaded only when a photo
    reaches the saliency check.
    """
    if min_short_side < 1:
        raise UsageError(f"--min-short-side must be a positive number of pixels, not {min_short_side}.")
    src, dst = Path(src), Path(dst)
    photos = files_by_stem(require_dir(src, "background source"))
    dst.mkdir(parents=True, exist_ok=True)
    report = dst / REPORT
    done = _read_report(report)
    curator = Curator(dst, min_short_side, max_distance, salient_threshold, _LazySegmenter(segmenter, weights))
    for verdict in done.values():
        if verdict.kept:
            curator.kept[verdict.file] = int(verdict.phash, 16)
    columns = [f.name for f in fields(Verdict)]
    fresh = not report.is_file()
    with open(report, "a", newline="") as f:
        writer = csv.DictWriter(f, columns)
        if fresh:
            writer.writeheader()
        for path in tqdm(list(photos.values()), desc="curate", unit="photo", disable=not progress):
            if path.name in done and (not done[path.name].kept or (dst / f"{path.stem}.png").is_file()):
                continue
            curator.kept.pop(path.name, None)  # a kept photo whose file went missing is judged again
            try:
                verdict = curator.judge(path)
            except MattekitError as e:
                verdict = Verdict(path.name, False, f"unreadable: {e}")
            done[path.name] = verdict
            writer.writerow(asdict(verdict))
            f.flush()
    return [done[p.name] for p in photos.values()]


class _LazySegmenter:
    def __init__(self, segmenter, weights):
        self.segmenter, self.weights = segmenter, weights

    def probability(self, image: np.ndarray) -> np.ndarray:
        if self.segmenter is None:
            from mattekit.engines.segmenters import U2Netp

            self.segmenter = U2Netp(self.weights)
        return self.segmenter.probability(image)
