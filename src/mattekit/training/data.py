"""Training data for GFM as torch Datasets of dicts of float32 arrays (see ``mattekit.data.gfm_samples``).

- ORI-Track (``OriginalTrack``): real photos and alphas from any dataset reader (``KIND:PATH``), the paper's
  augmentation (crop 640/960/1280 biased to the transition, flip, resize to 320) and RoSTa targets; F and B for
  the composition loss are estimated per crop (pymatting ``ml`` by default, ``cf`` for closed form).
- COMP-Track: ``mattekit.data.gfm_samples.CompositeDataset`` (coco, bg20k or rssn composites made online).

Every random draw comes from a generator seeded by (seed, epoch, index), so a sample does not depend on the
worker or the process that makes it; ``set_epoch`` moves to the next epoch's draws.

Example:
    >>> data = OriginalTrack("folder:data/dim-composites", rostas=("tt",))   # doctest: +SKIP
    >>> sorted(data[0])[:4]                                                              # doctest: +SKIP
    ['alpha', 'bg', 'draws', 'fg']
"""

from __future__ import annotations

import numpy as np
import torch

from mattekit.data.composition import estimate_colours
from mattekit.data.datasets import open_dataset
from mattekit.data.gfm_samples import CompositeDataset, original_sample
from mattekit.data.transforms import Window, apply_window
from mattekit.matting.targets import KERNELS, rosta_targets

TO_CHANNELS_FIRST = ("image", "fg", "bg")


def as_uint8(alpha: np.ndarray) -> np.ndarray:
    return np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8)


def centred_sample(image: np.ndarray, alpha: np.ndarray, rostas, output: int) -> dict:
    """The centred square of the image resized to ``output``, with targets: a deterministic sample."""
    h, w = alpha.shape
    side = min(h, w)
    window = Window((h - side) // 2, (w - side) // 2, side, False, False, output)
    sample = {"image": apply_window(image, window).astype(np.float32) / 255}
    small = apply_window(alpha, window).astype(np.float32) / 255
    for r in rostas:
        targets = rosta_targets(small, r, kernel=max(1, round(KERNELS[r] * window.scale)))
        sample["alpha"] = targets["alpha"]
        sample.update({f"{n}_{r}": targets[n] for n in ("glance", "focus", "transition")})
    sample["draws"] = {"y": window.y, "x": window.x, "size": side}
    return sample


class OriginalTrack(torch.utils.data.Dataset):
    """ORI-Track samples from the dataset ``spec`` (``KIND:PATH``, any reader of ``mattekit.data.datasets``)."""

    def __init__(self, spec: str, split: str | None = None, rostas=("tt",), output: int = 320,
                 augment: bool = True, colours: str = "ml", seed: int = 0, repeat: int = 1):
        self.dataset = open_dataset(spec, split)
        self.names = self.dataset.names
        self.rostas, self.output, self.augment, self.colours, self.seed = tuple(rostas), output, augment, colours, seed
        self.repeat = int(repeat)
        self.epoch = 0
        self.fixed: dict[int, dict] = {}  # without augmentation a sample never changes: made once

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.names) * self.repeat

    def __getitem__(self, index: int) -> dict:
        if not self.augment:
            index %= len(self.names)
            if index not in self.fixed:
                self.fixed[index] = self.make(index)
            return self.fixed[index]
        return self.make(index)

    def make(self, index: int) -> dict:
        item = self.dataset.load(self.names[index % len(self.names)])
        alpha = as_uint8(item.alpha)
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            sample = original_sample(item.image, alpha, rng, self.rostas, output=self.output)
        else:
            sample = centred_sample(item.image, alpha, self.rostas, self.output)
        image8 = np.round(sample["image"] * 255).astype(np.uint8)
        fg, bg = estimate_colours(image8, sample["alpha"], self.colours)
        sample["fg"], sample["bg"] = fg.astype(np.float32) / 255, bg.astype(np.float32) / 255
        return sample


def training_set(config: dict, rostas) -> torch.utils.data.Dataset:
    """The training Dataset the configuration asks for (``data.track``: ori or comp)."""
    from mattekit.errors import UsageError
    data, seed = config["data"], config["seed"]
    if data["track"] == "ori":
        if not data["train"]:
            raise UsageError("the ORI-Track needs data.train=KIND:PATH (for example am2k:/data/AM-2k).")
        return OriginalTrack(data["train"], data["split"], rostas, data["output"], data["augment"],
                             data["colours"], seed, data["repeat"])
    if data["track"] == "comp":
        if not (data["fg"] and data["bg"]):
            raise UsageError("the COMP-Track needs data.fg=FOLDER (image/, alpha/) and data.bg=FOLDER.")
        dataset = CompositeDataset(data["fg"], data["bg"], rosta=rostas, output=data["output"], mode=data["mode"],
                                   per_foreground=data["per_foreground"], seed=seed,
                                   foreground_method=data["foreground_method"])
        return dataset
    raise UsageError(f"data.track must be 'ori' or 'comp', not {data['track']!r}.")


def to_batch(collated: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """Collated samples -> (B, C, H, W) float tensors on ``device`` (``draws`` dropped)."""
    batch = {}
    for key, value in collated.items():
        if key == "draws":
            continue
        value = value.to(device, non_blocking=True)
        batch[key] = value.permute(0, 3, 1, 2) if key in TO_CHANNELS_FIRST else value[:, None]
    return batch
