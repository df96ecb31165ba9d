"""GFM training samples: 320×320 crops with their RoSTa targets, as dicts of float32 arrays.

A sample holds ``image``, ``fg``, ``bg`` (HxWx3 in [0, 1]; ``fg``/``bg`` are what Eq. 1 composes, for the
composition loss), ``alpha`` (HxW in [0, 1]), and per RoSTa ``r`` in ``rosta``: ``glance_r`` (the merge rule's
form: TT levels 0/0.5/1, FT core 0/1, BT region 0/1; the TT class index is ``2·glance``), ``focus_r`` and
``transition_r`` (0/1 weights of the focus loss), with ``merge_r(glance_r, focus_r) == alpha`` exactly
(``mattekit.matting.targets``). ``draws`` records every random choice as numbers (0 for a step not taken), so the
default PyTorch collate batches it.

- ``CompositeDataset``: the COMP-Track composed online, crop first (``compose_window``); ``set_epoch`` redraws.
- ``original_sample``: the same augmentation and targets for a real photo (ORI-Track).
- ``composite_sample(..., order="full")``: the official order (compose at full resolution, targets from the
  full-resolution alpha, then crop), for comparison; several times slower.

Example:
    >>> data = CompositeDataset("fgs", "bgs", mode="rssn", rosta=("tt",))   # doctest: +SKIP
    >>> sample = data[0]; sample["image"].shape, sample["glance_tt"].dtype    # doctest: +SKIP
    ((320, 320, 3), dtype('float32'))
"""

from __future__ import annotations

import numpy as np

from mattekit.data.comp_track import CompTrack
from mattekit.data.composition import Recipe, compose_full, compose_window, draw_recipe
from mattekit.data.transforms import OUTPUT_SIZE, Window, apply_window, draw_window
from mattekit.errors import UsageError
from mattekit.matting.targets import KERNELS, ROSTAS, glance_map, rosta_targets, split

_INV255 = np.float32(1.0 / 255.0)


def _rostas(rosta) -> tuple[str, ...]:
    rostas = (rosta,) if isinstance(rosta, str) else tuple(rosta)
    for r in rostas:
        if r not in ROSTAS:
            raise UsageError(f"unknown RoSTa {r!r}; choose from: {', '.join(ROSTAS)}.")
    return rostas


def _with_targets(sample: dict, alpha: np.ndarray, rostas, scale: float) -> dict:
    for r in rostas:
        targets = rosta_targets(alpha, r, kernel=max(1, round(KERNELS[r] * scale)))
        sample["alpha"] = targets["alpha"]
        for name in ("glance", "focus", "transition"):
            sample[f"{name}_{r}"] = targets[name]
    return sample


def _draws(recipe: Recipe, window: Window) -> dict:
    return {"denoise": int(recipe.denoise), "blur_kernel": recipe.blur_kernel or 0,
            "noise_sigma": float(recipe.noise_sigma or 0.0), **{k: int(v) for k, v in window.record().items()}}


def composite_sample(colours: np.ndarray, alpha: np.ndarray, bg: np.ndarray, recipe: Recipe,
                     rng: np.random.Generator, rosta=("tt",), output: int = OUTPUT_SIZE,
                     order: str = "crop") -> dict:
    """A training sample composed from uint8 ``colours`` (HxWx3), ``alpha`` (HxW) and ``bg`` (any size).

    The window is drawn first, then the noise, so both orders make the same crop from the same generator.
    """
    rostas = _rostas(rosta)
    window = draw_window(rng, alpha, output=output)
    if order == "crop":
        comp = compose_window(colours, alpha, bg, window, recipe, rng)
        sample = {k: np.multiply(comp[k], _INV255, out=comp[k]) for k in ("image", "fg", "bg")}
        sample = _with_targets(sample, comp["alpha"], rostas, window.scale)
    else:
        a = np.asarray(alpha, np.float32) * _INV255
        comp = compose_full(colours, a, bg, recipe, rng)
        sample = {k: apply_window(comp[k], window) * _INV255 for k in ("image", "fg", "bg")}
        small = apply_window(a, window)
        for r in rostas:
            targets = split(small, apply_window(glance_map(a, r), window, kind="class"), r)
            sample["alpha"] = targets["alpha"]
            sample.update({f"{n}_{r}": targets[n] for n in ("glance", "focus", "transition")})
    sample["draws"] = _draws(recipe, window)
    return sample


def original_sample(image: np.ndarray, alpha: np.ndarray, rng: np.random.Generator, rosta=("tt",),
                    fg: np.ndarray | None = None, bg: np.ndarray | None = None,
                    output: int = OUTPUT_SIZE) -> dict:
    """A training sample from a real photo: uint8 ``image`` with its alpha (float32 in [0, 1], as the dataset
    readers give it, or uint8); ``fg``/``bg`` colours (uint8) are optional.

    >>> rng = np.random.default_rng(0)
    >>> alpha = np.zeros((400, 500), np.float32); alpha[100:300, 150:350] = 1
    >>> s = original_sample(np.zeros((400, 500, 3), np.uint8), alpha, rng, rosta="ft")
    >>> s["image"].shape, sorted(k for k in s if k.endswith("_ft"))
    ((320, 320, 3), ['focus_ft', 'glance_ft', 'transition_ft'])
    """
    window = draw_window(rng, alpha, output=output)
    sample = {"image": apply_window(image, window).astype(np.float32) * _INV255}
    for name, colours in (("fg", fg), ("bg", bg)):
        if colours is not None:
            sample[name] = apply_window(colours, window).astype(np.float32) * _INV255
    small = apply_window(alpha, window).astype(np.float32)
    if alpha.dtype == np.uint8:
        small *= _INV255
    sample = _with_targets(sample, small, _rostas(rosta), window.scale)
    sample["draws"] = _draws(Recipe(), window)
    return sample


class CompositeDataset:
    """COMP-Track training samples composed online: ``len`` = foregrounds × ``per_foreground``.

    Takes ``CompTrack``'s options (``mode``, ``per_foreground``, ``pairing``, ``seed``, ``foreground_method``,
    ``bm3d_profile``, ``store``, ``decode_once``). Sample ``i`` of epoch ``e`` is the same in any worker;
    ``set_epoch`` changes the backgrounds and every draw. Run ``mattekit denoise FG_DIR BG_DIR`` first for RSSN:
    a missing BM3D copy is computed on first use and takes minutes.
    """

    def __init__(self, fg_dir, bg_dir, rosta=("tt",), output: int = OUTPUT_SIZE, order: str = "crop", **options):
        self.track = CompTrack(fg_dir, bg_dir, **options)
        self.rosta, self.output, self.order = _rostas(rosta), output, order
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.track)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        plan = self.track.plan(index, self.epoch)
        rng = np.random.default_rng(plan.seed)
        recipe = draw_recipe(rng, self.track.mode)
        pixels = self.track.pixels
        colours = pixels.colours(plan.foreground, recipe.denoise)
        bg = pixels.background(plan.background, recipe.denoise)
        sample = composite_sample(colours, pixels.alpha(plan.foreground), bg, recipe, rng, self.rosta,
                                  self.output, self.order)
        sample["draws"].update(seed=plan.seed, foreground=index // self.track.per_foreground,
                               background=plan.background_index)
        return sample
