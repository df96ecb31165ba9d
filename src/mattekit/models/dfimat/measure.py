"""DFIMat's parts as modules of one image tensor, for ``mattekit complexity`` (``evaluation.complexity.MODELS``).

A round here is the paper's click round: 3 clicks (two positive, one negative) on the target, with a previous
mask and a conflict map (a later round, so the memory queries and the CRM work too).

- ``DFIMatWhole(preset)``: ISCN (image encoder and one round) + MRN on its mask: the whole network;
- ``ISCNRound(preset, cached=False)``: ISCN alone; ``cached=True``: only the work of a later round of a Session
  (the CRM, the visual sampler, the text encoder, the decoder), the image features computed once beforehand;
- ``MRNWithMask(preset)``: MRN on the image and a coarse mask (a centred box).

Example:
    >>> import torch
    >>> ISCNRound("tiny")(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 16, 16])
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mattekit.interactive.prompts import Click
from mattekit.models.dfimat.iscn import ISCN
from mattekit.models.dfimat.mrn import MRN
from mattekit.models.dfimat.prompts import make_target
from mattekit.models.dfimat.settings import iscn_settings, mrn_settings


@contextmanager
def without_hooks(module: nn.Module):
    """Run ``module`` and its children without their forward hooks (the MAC counter's) inside the block."""
    saved = [(m, dict(m._forward_hooks)) for m in module.modules()]
    for m, _ in saved:
        m._forward_hooks.clear()
    try:
        yield
    finally:
        for m, hooks in saved:
            m._forward_hooks.update(hooks)


def click_round(shape: tuple[int, int]):
    """The measured round on an image of ``shape``: 3 clicks, a previous mask, a conflict map."""
    h, w = shape
    previous = np.zeros((h, w), np.float32)
    previous[h // 4: 3 * h // 4, w // 3: 2 * w // 3] = 1
    clicks = [Click(w / 2, h / 2), Click(w / 2, 0.8 * h), Click(0.9 * w, h / 2, positive=False)]
    conflict = np.zeros((h, w), np.uint8)
    conflict[int(0.8 * h) - 3: int(0.8 * h) + 3, w // 2 - 3: w // 2 + 3] = 1
    return make_target(clicks, shape, 1.0, conflict, previous)


class ISCNRound(nn.Module):
    def __init__(self, preset: str = "dfimat", cached: str | bool = False):
        super().__init__()
        self.iscn = ISCN(iscn_settings(preset))
        self.cached = cached in (True, "cached")
        self.features = None

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if not self.cached:
            return self.iscn(image, [click_round(tuple(image.shape[-2:]))])["mask"]
        if self.features is None or self.features["size"] != tuple(image.shape[-2:]):
            with without_hooks(self.iscn.image_encoder):  # the cached encoder is not part of a round's cost
                self.features = self.iscn.encode(image)
        return self.iscn.decode(self.features, [click_round(tuple(image.shape[-2:]))])["mask"]


class MRNWithMask(nn.Module):
    def __init__(self, preset: str = "dfimat"):
        super().__init__()
        self.mrn = MRN(mrn_settings(preset))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        mask = torch.zeros(1, 1, h, w, device=image.device)
        mask[..., h // 4: 3 * h // 4, w // 3: 2 * w // 3] = 1
        return self.mrn(image, mask)["alpha"]


class DFIMatWhole(nn.Module):
    def __init__(self, preset: str = "dfimat"):
        super().__init__()
        self.iscn = ISCN(iscn_settings(preset))
        self.mrn = MRN(mrn_settings(preset))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        mask = self.iscn(image, [click_round(tuple(image.shape[-2:]))])["mask"][:, None]
        coarse = torch.sigmoid(F.interpolate(mask, size=image.shape[-2:], mode="bilinear", align_corners=False))
        return self.mrn(image, coarse)["alpha"]
