"""DFIMat training data: multi-person scenes synthesised online (``mattekit.data.synthesis``) with a layout text
per person, and MRN's perturbed coarse masks.

``SceneSet(pool, backgrounds, output, count, seed)`` has ``count`` scenes per epoch of ``output``x``output``
pixels; scene ``i`` of epoch ``e`` draws everything (background, people, layout, the target person, its sentence)
from a generator seeded with (seed, e, i), or (seed, i) when ``fixed`` (the same scenes every epoch, as a finite
dataset like SMPMat is). The seed of its simulated user (``user_seed``) comes from (seed, e, i) in both cases: a
fixed scene is prompted anew every epoch (other clicks, another number of rounds), as a training set read for
many epochs is, instead of replaying one interaction. Items are dicts of numpy arrays; ``collate`` keeps a list.

``InstanceSet(spec, split, output, seed)`` gives the same kind of items from real images with per-instance alphas
(the HIM2K reader, ``him2k:PATH``).

``perturb_mask`` is Mask Guided Matting's guidance perturbation (Yu et al., CVPR 2021, arXiv 2012.06722, §3.4;
interactive notes §6): threshold the alpha at t ~ U(0.01, 1), erode and/or dilate it with random ellipses, and
with probability 0.25 copy a random patch of it elsewhere (CutMask). Kernel sizes are MGMatting's 1..30 at 512
pixels, scaled to the training size.

Example:
    >>> person = np.zeros((40, 20), np.float32); person[5:, 4:16] = 1
    >>> pool = [(np.full((40, 20, 3), 60 * i, np.uint8), person) for i in range(3)]
    >>> data = SceneSet(pool, [np.zeros((80, 80, 3), np.uint8)], output=64, count=2, seed=0)
    >>> item = data[0]
    >>> item["image"].shape, item["alphas"].shape[1:], isinstance(item["text"], str)
    ((64, 64, 3), (64, 64), True)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from mattekit.data.composition import fit_background
from mattekit.data.datasets import open_dataset
from mattekit.data.layout_text import layout_text
from mattekit.data.synthesis import synthesize
from mattekit.errors import UsageError
from mattekit.io import find_images, load_image

USER_STREAM = 1  # keeps the users' seeds apart from the scenes' draws of the same (seed, epoch, index)
MIN_VISIBLE = 0.5 / 255  # a person whose alpha sums to less than this share of the image is dropped as unseen


def load_pool(folder: str, largest: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(colours, alpha) portraits of a folder with ``image/`` and ``alpha/`` (any ``folder:`` dataset), shrunk so
    that their longer side is at most ``largest``."""
    dataset = open_dataset(f"folder:{folder}")
    pool = []
    for name in dataset.names:
        item = dataset.load(name)
        scale = min(1.0, largest / max(item.image.shape[:2]))
        size = (max(1, round(item.image.shape[1] * scale)), max(1, round(item.image.shape[0] * scale)))
        image = cv2.resize(item.image, size, interpolation=cv2.INTER_AREA) if scale < 1 else item.image
        alpha = cv2.resize(item.alpha, size, interpolation=cv2.INTER_AREA) if scale < 1 else item.alpha
        pool.append((image, alpha.astype(np.float32)))
    if len(pool) < 2:
        raise UsageError(f"multi-person scenes need at least 2 portraits in {folder}; it has {len(pool)}.")
    return pool


def load_backgrounds(folder: str, output: int) -> list[np.ndarray]:
    """Every image of ``folder`` scaled and centre-cropped to ``output``x``output``."""
    files = find_images([Path(folder)])
    if not files:
        raise UsageError(f"the background folder {folder} holds no images.")
    return [fit_background(load_image(f), (output, output)) for f in files]


class SceneSet(torch.utils.data.Dataset):
    """Synthesised multi-person scenes, one target person each; see the module docstring."""

    def __init__(self, pool, backgrounds, output: int, count: int, seed: int, people: int | None = None,
                 fixed: bool = False):
        self.pool, self.backgrounds, self.output, self.count = pool, backgrounds, output, count
        self.seed, self.people, self.fixed, self.epoch = seed, people, fixed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict:
        key = [self.seed, index] if self.fixed else [self.seed, self.epoch, index]
        rng = np.random.default_rng(key)
        background = fit_background(self.backgrounds[int(rng.integers(len(self.backgrounds)))],
                                    (self.output, self.output))
        scene = synthesize(self.pool, background, rng, self.people)
        alphas = scene.alphas[scene.alphas.reshape(len(scene.alphas), -1).mean(1) > MIN_VISIBLE]
        target = int(rng.integers(len(alphas)))
        return {"image": scene.image, "alphas": alphas, "target": target,
                "text": layout_text(alphas, target, rng), "seed": user_seed(self.seed, self.epoch, index)}


class InstanceSet(torch.utils.data.Dataset):
    """Real images with per-instance alphas from a dataset reader that has ``load_instances`` (``him2k:PATH``):
    each image once per epoch, a square crop (random unless ``fixed``; centred then) resized to ``output``, a
    random visible person as the target, with a layout sentence, seeded like ``SceneSet``."""

    def __init__(self, spec: str, split: str | None, output: int, seed: int, fixed: bool = False):
        self.dataset = open_dataset(spec, split)
        if not hasattr(self.dataset, "load_instances"):
            raise UsageError(f"{spec} has no per-instance alphas; the instances track needs one that has (him2k).")
        self.names, self.output, self.seed, self.fixed, self.epoch = self.dataset.image_names, output, seed, fixed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index] if self.fixed else [self.seed, self.epoch, index])
        item = self.dataset.load_instances(self.names[index])
        h, w = item.image.shape[:2]
        side = min(h, w)
        y = (h - side) // 2 if self.fixed else int(rng.integers(h - side + 1))
        x = (w - side) // 2 if self.fixed else int(rng.integers(w - side + 1))
        size = (self.output, self.output)
        crop = lambda a: cv2.resize(np.ascontiguousarray(a[y:y + side, x:x + side]), size,  # noqa: E731
                                    interpolation=cv2.INTER_AREA)
        alphas = np.stack([crop(a) for a in item.alphas]).astype(np.float32)
        visible = alphas.reshape(len(alphas), -1).mean(1) > MIN_VISIBLE
        alphas = alphas[visible] if visible.any() else alphas
        target = int(rng.integers(len(alphas)))
        return {"image": crop(item.image), "alphas": alphas, "target": target,
                "text": layout_text(alphas, target, rng), "seed": user_seed(self.seed, self.epoch, index)}


def user_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of item ``index``'s simulated user in ``epoch`` (new every epoch, fixed scenes or not).

    >>> user_seed(0, 0, 1) == user_seed(0, 0, 1) != user_seed(0, 1, 1)
    True
    """
    return int(np.random.default_rng([seed, epoch, index, USER_STREAM]).integers(2 ** 31))


def collate(items: list[dict]) -> list[dict]:
    return items


def perturb_mask(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MGMatting's perturbed guidance mask (float32 0/1) of ``alpha`` (float HxW in [0, 1])."""
    h, w = alpha.shape
    mask = (alpha >= rng.uniform(0.01, 1.0)).astype(np.uint8)
    largest = max(2, round(30 * min(h, w) / 512))
    kernel = lambda: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(rng.integers(1, largest + 1)),) * 2)  # noqa
    choice = int(rng.integers(4))
    if choice in (0, 2):
        mask = cv2.erode(mask, kernel())
    if choice in (1, 2, 3):
        mask = cv2.dilate(mask, kernel())
    if choice == 3:
        mask = cv2.erode(mask, kernel())
    if rng.uniform() < 0.25:
        ph, pw = int(rng.integers(h // 4, h // 2 + 1)), int(rng.integers(w // 4, w // 2 + 1))
        y0, x0 = int(rng.integers(h - ph + 1)), int(rng.integers(w - pw + 1))
        y1, x1 = int(rng.integers(h - ph + 1)), int(rng.integers(w - pw + 1))
        mask[y1:y1 + ph, x1:x1 + pw] = mask[y0:y0 + ph, x0:x0 + pw].copy()
    return mask.astype(np.float32)
