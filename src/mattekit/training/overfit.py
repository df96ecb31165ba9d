"""Can this setup learn? Train GFM on one image through the real training loop and compare its SAD before and after;
or overfit DFIMat's MRN to refine a blurred alpha of one image (``overfit_mrn``).

A sanity check for a new backbone, loss or data path: ``mattekit.training.trainer.train`` runs on a folder holding
just the one image (its centred square resized to ``size``, no augmentation, batch 1, batch norm in inference mode
so that the model scored afterwards is the one that trained), starting from the encoder's ImageNet weights. The SAD
(sum of absolute alpha differences / 1000, at the training size) of the merged alpha should fall by more than 90%.

Example:
    >>> result = overfit_one_image("GT25.png", "alpha/GT25.png")          # doctest: +SKIP
    >>> result.sad_before, result.sad_after                               # doctest: +SKIP
    (6.49, 0.27)
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from mattekit.engines.gfm_weights import build_from_weights
from mattekit.io import load_alpha, load_image
from mattekit.models.dfimat import MRN, mrn_settings
from mattekit.models.gfm import GFM
from mattekit.training.config import load_config
from mattekit.training.data import OriginalTrack
from mattekit.training.trainer import train


@dataclass(frozen=True)
class OverfitResult:
    sad_before: float
    sad_after: float
    losses: list[tuple[int, float]]
    seconds: float

    @property
    def reduction(self) -> float:
        """The fraction by which the SAD fell (0.9: 90% lower)."""
        return 1 - self.sad_after / self.sad_before


def sad_on(model: GFM, sample: dict) -> float:
    """SAD / 1000 of ``model``'s merged alpha (inference mode) on a training ``sample``."""
    x = torch.from_numpy(sample["image"]).permute(2, 0, 1)[None] * 255
    with torch.inference_mode():
        alpha = model.eval()(x)["alpha"][0, 0].numpy()
    return float(np.abs(alpha - sample["alpha"]).sum() / 1000)


def overfit_one_image(image: str | os.PathLike, alpha: str | os.PathLike, backbone: str = "efficientnet_lite0",
                      size: int = 96, steps: int = 40, lr: float = 1e-3, seed: int = 0) -> OverfitResult:
    """Train GFM-TT(``backbone``) for ``steps`` steps on one image and its alpha; SADs before and after."""
    image, alpha = Path(image).resolve(), Path(alpha).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one"
        for kind, source in (("image", image), ("alpha", alpha)):
            (one / kind).mkdir(parents=True)
            (one / kind / f"sample{source.suffix}").symlink_to(source)
        config = load_config(None, [f"run_dir={tmp}/run", "progress=false", f"model.backbone={backbone}",
                                    f"data.train=folder:{one}", f"data.output={size}", "data.augment=false",
                                    "data.workers=0", f"data.repeat={steps}", "optim.batch_size=1",
                                    "optim.epochs=1", "optim.freeze_bn=true", f"optim.lr={lr}", f"seed={seed}"])
        sample = OriginalTrack(f"folder:{one}", rostas=("tt",), output=size, augment=False)[0]
        torch.manual_seed(seed)
        start = GFM(backbone, "tt")
        start.load_imagenet()
        before = sad_on(start, sample)
        tick = time.perf_counter()
        losses = train(config)
        seconds = time.perf_counter() - tick
        last = sorted((Path(tmp) / "run" / "checkpoints").glob("step-*.safetensors"))[-1]
        after = sad_on(build_from_weights(last), sample)
    return OverfitResult(before, after, losses, seconds)


def overfit_mrn(image: str | os.PathLike, alpha: str | os.PathLike, size: int = 64, steps: int = 200,
                lr: float = 2e-3, blur: float = 0.04, preset: str = "tiny", seed: int = 0) -> OverfitResult:
    """Train DFIMat's MRN (Eq. 7 over its PRM path) for ``steps`` Adam steps to refine one image's alpha blurred
    with a Gaussian of sigma ``blur`` x ``size``, both resized to ``size`` squared; SAD / 1000 of the blurred
    alpha (before) and of MRN's output in inference mode (after)."""
    from mattekit.training.dfimat_losses import mrn_loss
    rgb = cv2.resize(load_image(image), (size, size), interpolation=cv2.INTER_AREA)
    truth = cv2.resize(load_alpha(alpha), (size, size), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(truth, (0, 0), blur * size)
    torch.manual_seed(seed)
    model = MRN(mrn_settings(preset))
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float()
    coarse, target = torch.from_numpy(blurred)[None, None], torch.from_numpy(truth)[None, None]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses, tick = [], time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        loss, _ = mrn_loss(model(x, coarse), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append((step, loss.item()))
    seconds = time.perf_counter() - tick
    with torch.inference_mode():
        out = model.eval()(x, coarse)["alpha"][0, 0].numpy()
    sad = lambda a: float(np.abs(a - truth).sum() / 1000)  # noqa: E731
    return OverfitResult(sad(blurred), sad(out), losses, seconds)
