"""A COMP-Track source: foregrounds and backgrounds, how they pair, per-sample seeds, and the colours to compose.

``FG_DIR`` holds ``image/`` and ``alpha/`` matched by stem, optionally ``fg/`` with precomputed foreground colours;
without it the colours are estimated from the image and alpha (closed form by default, as the paper) once and kept
in the pixel store. ``BG_DIR`` is a folder of photos.

Sample ``i`` is foreground ``i // K`` over its ``i % K``-th background. With ``pairing="random"`` (the paper,
K = 5) each foreground gets K distinct backgrounds drawn for it; with ``pairing="fixed"`` (the official code, which
pairs foreground ``i`` with the ``i``-th sorted background, K = 1) the background is ``(i·K + slot) mod N``. Every
draw comes from a numpy Generator seeded by ``(seed, epoch, index)`` (backgrounds: ``(seed, epoch, foreground,
1)``), so a sample is the same whichever worker makes it, in whichever order.

BM3D copies and estimated colours are read from the pixel store (``mattekit.data.store``) and computed there when
missing; ``precompute`` fills it for a whole folder in parallel (``mattekit denoise``).

Example:
    >>> track = CompTrack("fgs", "bgs", per_foreground=5)     # doctest: +SKIP
    >>> track.plan(7)                                         # doctest: +SKIP
    Plan(index=7, foreground=Foreground(name='cat', ...), background=PosixPath('bgs/sea.jpg'), background_index=3, ...)
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mattekit import io, kernels
from mattekit.data.composition import FOREGROUND_METHODS, check_mode, estimate_colours
from mattekit.data.denoise import PROFILES, bm3d_denoise, require_bm3d
from mattekit.data.samples import match_stems
from mattekit.data.store import PixelStore, derived_key, file_key, to_uint8
from mattekit.errors import InputError, UsageError

PAIRINGS = ("random", "fixed")


@dataclass(frozen=True)
class Foreground:
    """One foreground's files; ``colours`` is its ``fg/`` file, or None when the colours are estimated."""

    name: str
    image: Path
    alpha: Path
    colours: Path | None = None


@dataclass(frozen=True)
class Plan:
    """Which foreground and background sample ``index`` composes, and the seed of its draws."""

    index: int
    foreground: Foreground
    background: Path
    background_index: int
    seed: int


def list_foregrounds(fg_dir: str | os.PathLike) -> list[Foreground]:
    """The foregrounds of ``fg_dir`` (``image/`` and ``alpha/`` by stem, optional ``fg/``), sorted by name."""
    root = Path(fg_dir)
    if not root.is_dir():
        raise InputError(f"foreground folder {root} does not exist.")
    pairs = match_stems({"image": root / "image", "alpha": root / "alpha"}, "foreground set",
                        optional={"fg": root / "fg"})
    return [Foreground(stem, files["image"], files["alpha"], files.get("fg")) for stem, files in pairs.items()]


def list_backgrounds(bg_dir: str | os.PathLike) -> list[Path]:
    """The photos of ``bg_dir``, sorted by name."""
    root = Path(bg_dir)
    if not root.is_dir():
        raise InputError(f"background folder {root} does not exist.")
    found = io.find_images([root])
    if not found:
        raise InputError(f"background folder {root} holds no images.")
    return found


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample ``index`` in ``epoch``: a 32-bit number derived from all three.

    >>> sample_seed(0, 0, 1) == sample_seed(0, 0, 1) != sample_seed(0, 0, 2)
    True
    """
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class Pixels:
    """Where a COMP-Track's pixels come from: photos and alphas (decoded once when ``decode_once``), foreground
    colours (a ``fg/`` file, else estimated with ``foreground_method`` and stored) and their BM3D copies (stored).

    ``decode_once`` keeps a decoded copy of every photo and alpha in the pixel store, so later reads are memory
    maps (fast; about 5 MB of disk per 1080p photo); without it each read decodes the file again.
    """

    def __init__(self, store: PixelStore | str | os.PathLike | None = None, foreground_method: str = "cf",
                 bm3d_profile: str = "np", decode_once: bool = True):
        for value, allowed, what in ((foreground_method, FOREGROUND_METHODS, "foreground method"),
                                     (bm3d_profile, PROFILES, "BM3D profile")):
            if value not in allowed:
                raise UsageError(f"unknown {what} {value!r}; choose one of: {', '.join(allowed)}.")
        self.store = store if isinstance(store, PixelStore) else PixelStore(store)
        self.foreground_method, self.bm3d_profile, self.decode_once = foreground_method, bm3d_profile, decode_once

    def _photo(self, path: Path) -> np.ndarray:
        return self.store.image(path) if self.decode_once else io.load_image(path)

    def alpha(self, fg: Foreground) -> np.ndarray:
        """The alpha of ``fg`` as uint8 HxW."""
        return self.store.alpha(fg.alpha) if self.decode_once else to_uint8(io.load_alpha(fg.alpha))

    def colour_key(self, fg: Foreground) -> str:
        if fg.colours is not None:
            return file_key(fg.colours)
        return derived_key(file_key(fg.image), file_key(fg.alpha), "colours", self.foreground_method)

    def _estimated(self, fg: Foreground) -> np.ndarray:
        image, alpha = io.load_image(fg.image), io.load_alpha(fg.alpha)
        _check_size(fg.alpha, alpha, fg.image, image)
        return estimate_colours(image, alpha, self.foreground_method)[0]

    def colours(self, fg: Foreground, denoised: bool = False) -> np.ndarray:
        """The foreground colours of ``fg`` (uint8 HxWx3), BM3D-denoised when ``denoised``."""
        if denoised:
            key = derived_key(self.colour_key(fg), "bm3d", self.bm3d_profile)
            return self.store.derive(key, lambda: bm3d_denoise(np.asarray(self.colours(fg)), self.bm3d_profile))
        if fg.colours is not None:
            colours = self._photo(fg.colours)
            _check_size(fg.alpha, self.alpha(fg), fg.colours, colours)
            return colours
        return self.store.derive(self.colour_key(fg), lambda: self._estimated(fg))

    def background(self, path: Path, denoised: bool = False) -> np.ndarray:
        """The background photo at ``path`` (uint8 HxWx3), BM3D-denoised when ``denoised``."""
        if denoised:
            key = derived_key(file_key(path), "bm3d", self.bm3d_profile)
            return self.store.derive(key, lambda: bm3d_denoise(np.asarray(self._photo(path)), self.bm3d_profile))
        return self._photo(path)

    def is_stored(self, job: tuple[str, object]) -> bool:
        """Whether the BM3D copy that ``job`` (``("fg", Foreground)`` or ``("bg", path)``) makes is stored."""
        kind, what = job
        key = self.colour_key(what) if kind == "fg" else file_key(what)
        return self.store.get(derived_key(key, "bm3d", self.bm3d_profile)) is not None

    def run_job(self, job: tuple[str, object]) -> None:
        kind, what = job
        (self.colours if kind == "fg" else self.background)(what, True)


def denoise_jobs(foregrounds=(), backgrounds=()) -> list[tuple[str, object]]:
    """The BM3D jobs of ``foregrounds`` and ``backgrounds``, each once, in order."""
    return [("fg", fg) for fg in dict.fromkeys(foregrounds)] + [("bg", bg) for bg in dict.fromkeys(backgrounds)]


class CompTrack:
    """Foregrounds of ``fg_dir`` over backgrounds of ``bg_dir``: ``len(track)`` = foregrounds × ``per_foreground``.

    ``pixels`` options (``store``, ``foreground_method``, ``bm3d_profile``, ``decode_once``) go to ``Pixels``.
    """

    def __init__(self, fg_dir, bg_dir, mode: str = "rssn", per_foreground: int = 5, pairing: str = "random",
                 seed: int = 0, **pixels):
        self.mode = check_mode(mode)
        if per_foreground < 1:
            raise UsageError(f"--per-foreground must be at least 1, not {per_foreground}.")
        if pairing not in PAIRINGS:
            raise UsageError(f"unknown pairing {pairing!r}; choose one of: {', '.join(PAIRINGS)}.")
        self.pixels = Pixels(**pixels)
        self.foregrounds = list_foregrounds(fg_dir)
        self.backgrounds = list_backgrounds(bg_dir)
        self.per_foreground, self.pairing, self.seed = per_foreground, pairing, seed

    def __len__(self) -> int:
        return len(self.foregrounds) * self.per_foreground

    def background_index(self, index: int, epoch: int = 0) -> int:
        """Which background (position in ``self.backgrounds``) sample ``index`` uses."""
        fg, slot = divmod(index, self.per_foreground)
        count = len(self.backgrounds)
        if self.pairing == "fixed":
            return (fg * self.per_foreground + slot) % count
        rng = np.random.default_rng([self.seed, epoch, fg, 1])
        return int(rng.choice(count, self.per_foreground, replace=self.per_foreground > count)[slot])

    def plan(self, index: int, epoch: int = 0) -> Plan:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} is outside 0..{len(self) - 1}")
        which = self.background_index(index, epoch)
        return Plan(index, self.foregrounds[index // self.per_foreground], self.backgrounds[which], which,
                    sample_seed(self.seed, epoch, index))


def _check_size(alpha_path: Path, alpha: np.ndarray, image_path: Path, image: np.ndarray) -> None:
    if alpha.shape[:2] != image.shape[:2]:
        raise InputError(f"{alpha_path} is {alpha.shape[1]}x{alpha.shape[0]} but {image_path} is "
                         f"{image.shape[1]}x{image.shape[0]}; a foreground's files must have one size.")


_WORKER: dict = {}


def _init_worker(pixels: Pixels) -> None:
    _WORKER["pixels"] = pixels


def _run_job(job) -> None:
    _WORKER["pixels"].run_job(job)


def precompute(pixels: Pixels, jobs: list, workers: int = 1, progress: bool = True) -> int:
    """Compute the BM3D copies (and the estimated colours they start from) of ``jobs`` that are not stored yet,
    ``workers`` processes at a time; returns how many were computed."""
    todo = [job for job in jobs if not pixels.is_stored(job)]
    if todo:
        require_bm3d()  # here, not in a worker: a missing rssn extra is one sentence before any work
    bar = tqdm(total=len(todo), desc="BM3D", unit="image", disable=not progress or not todo)
    if workers <= 1:
        for job in todo:
            pixels.run_job(job)
            bar.update()
    else:
        kernels.prepare()  # the colours BM3D starts from need them: compiled here once, not in every worker
        context = multiprocessing.get_context("forkserver")  # no fork of a process that may hold threads
        with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(pixels,)) as pool:
            for done in as_completed([pool.submit(_run_job, job) for job in todo]):
                done.result()
                bar.update()
    bar.close()
    return len(todo)


def denoise_folders(folders, workers: int = 1, progress: bool = True, **pixel_options) -> tuple[int, int]:
    """Fill the pixel store with the BM3D copies of everything in ``folders``: a foreground set (``image/`` and
    ``alpha/``, optional ``fg/``) gives its foreground colours, any other folder its photos. Returns (computed,
    total)."""
    pixels = Pixels(**pixel_options)
    jobs = []
    for folder in map(Path, folders):
        if (folder / "image").is_dir() and (folder / "alpha").is_dir():
            jobs += denoise_jobs(foregrounds=list_foregrounds(folder))
        else:
            jobs += denoise_jobs(backgrounds=list_backgrounds(folder))
    return precompute(pixels, jobs, workers, progress), len(jobs)
