"""What ISCN is told about one target, as tensors, and the visual sampler (DFIMat, Jiao et al., ACCV 2024, arXiv
2410.09788, §3.2, Eq. 1).

``make_target`` turns a round's prompts into a ``Target``: every click, scribble and box becomes its mask with
``mattekit.interactive.prompts.rasterise`` (the same pixels for every engine) and a polarity (a box is positive),
the sentence stays text, and the conflict map and the previous round's alpha come along.

``VisualSampler`` (Eq. 1, after SEEM: Zou et al., "Segment Everything Everywhere All at Once", NeurIPS 2023,
arXiv 2304.06718, §3.3): ``points`` pixels are taken inside each prompt's mask (uniformly at random in training;
evenly along the mask's pixels in reading order at inference, so a prediction is repeatable), the image features
of each decoder level (after a per-level linear map) and their position encoding are sampled there bilinearly,
and a learned positive or negative embedding is added: the prompt's tokens for that level. The mean of the
samples of the 1/4 mask features is the prompt's pooled vector (it seeds the prompt's visual queries).

Example:
    >>> from mattekit.interactive.prompts import Box, Click
    >>> t = make_target([Click(3, 4), Box(0, 0, 9, 9), Click(12, 4, positive=False)], (16, 16))
    >>> tuple(t.masks.shape), t.positive.tolist()
    ((3, 16, 16), [True, True, False])
    >>> sample_points(t.masks[0], 4, training=False).tolist()[0]
    [0, 0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mattekit.interactive.prompts import VISUAL, Box, Text, rasterise


@dataclass
class Target:
    """One target of one image for ISCN: ``masks`` (P, H, W) bool, ``positive`` (P,) bool, ``text`` (or None),
    ``conflict`` (H, W) long 0/1/2 (or None: all D_r), ``previous`` (H, W) float alpha of the last round (or
    None), ``image``: the index of its image in the batch of images, ``seed``: seeds the training-time point draws
    of this target (None: torch's global generator), so they do not depend on the batch or the process."""

    masks: torch.Tensor
    positive: torch.Tensor
    text: str | None = None
    conflict: torch.Tensor | None = None
    previous: torch.Tensor | None = None
    image: int = 0
    seed: int | None = None


def make_target(prompts, shape: tuple[int, int], scale: float = 1.0, conflict: np.ndarray | None = None,
                previous: np.ndarray | None = None, image: int = 0, seed: int | None = None) -> Target:
    """The ``Target`` of ``prompts`` on a network input of ``shape`` (H, W) that is ``scale`` times the prompts'
    image; ``conflict`` and ``previous`` must already have that shape. Sentences are joined with "; "."""
    visual = [p for p in prompts if isinstance(p, VISUAL)]
    masks = np.stack([rasterise(p, shape, scale) for p in visual]) if visual else np.zeros((0, *shape), bool)
    positive = [bool(getattr(p, "positive", True)) or isinstance(p, Box) for p in visual]
    texts = [p.text for p in prompts if isinstance(p, Text)]
    return Target(torch.from_numpy(masks), torch.tensor(positive, dtype=torch.bool), "; ".join(texts) or None,
                  None if conflict is None else torch.from_numpy(np.asarray(conflict)).long(),
                  None if previous is None else torch.from_numpy(np.asarray(previous, np.float32)), image, seed)


def sample_points(mask: torch.Tensor, count: int, training: bool, generator: torch.Generator | None = None):
    """``count`` (row, column) pixels inside the bool ``mask`` (H, W), long (count, 2); with replacement when the
    mask is small; evenly spread in reading order unless ``training`` (then uniform, from ``generator`` or
    torch's)."""
    inside = mask.nonzero()
    if inside.shape[0] == 0:
        return torch.zeros(count, 2, dtype=torch.long, device=mask.device)
    if training:
        pick = torch.randint(inside.shape[0], (count,), generator=generator).to(mask.device)
    else:
        pick = torch.linspace(0, inside.shape[0] - 1, count, device=mask.device).round().long()
    return inside[pick]


def sample_features(features: torch.Tensor, points: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear samples of ``features`` (C, h, w) at pixel ``points`` (N, 2) of an image of ``size`` (H, W),
    pixel centres aligned: (N, C)."""
    height, width = size
    y = (points[:, 0].float() + 0.5) / height * 2 - 1
    x = (points[:, 1].float() + 0.5) / width * 2 - 1
    grid = torch.stack([x, y], -1).view(1, 1, -1, 2).to(features.dtype)
    return F.grid_sample(features[None], grid, mode="bilinear", align_corners=False)[0, :, 0].T


class VisualSampler(nn.Module):
    """Eq. 1: prompt masks + image features -> per-level prompt tokens, their positions, and pooled vectors."""

    def __init__(self, hidden: int, points: int, levels: int = 3):
        super().__init__()
        self.points = points
        self.level_maps = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(levels))
        self.polarity = nn.Embedding(2, hidden)  # 0 negative, 1 positive

    def forward(self, targets: list[Target], levels: list[torch.Tensor], positions: list[torch.Tensor],
                mask_features: torch.Tensor, size: tuple[int, int]):
        """Returns (tokens per level (B, P·points, C), positions per level (same), pooled (B, P, C), valid
        prompts (B, P) bool, owner of each token (B, P·points) long: its prompt's index)."""
        batch, count = len(targets), max([t.masks.shape[0] for t in targets] + [0])
        hidden, device = mask_features.shape[1], mask_features.device
        n = count * self.points
        tokens = [mask_features.new_zeros(batch, n, hidden) for _ in levels]
        token_pos = [mask_features.new_zeros(batch, n, hidden) for _ in levels]
        pooled = mask_features.new_zeros(batch, count, hidden)
        valid = torch.zeros(batch, count, dtype=torch.bool, device=device)
        for b, target in enumerate(targets):
            masks = target.masks.to(device)
            present = [p for p in range(masks.shape[0]) if masks[p].any()]
            if not present:
                continue
            valid[b, present] = True
            generator = None if target.seed is None else torch.Generator().manual_seed(target.seed)
            points = torch.cat([sample_points(masks[p], self.points, self.training, generator) for p in present])
            where = torch.cat([torch.arange(p * self.points, (p + 1) * self.points, device=device) for p in present])
            signs = self.polarity(target.positive.to(device)[present].long()).repeat_interleave(self.points, 0)
            for level, (feature, pos) in enumerate(zip(levels, positions)):
                tokens[level][b, where] = self.level_maps[level](sample_features(feature[b], points, size)) + signs
                token_pos[level][b, where] = sample_features(pos, points, size)
            pooled[b, present] = sample_features(mask_features[b], points, size).view(len(present), self.points,
                                                                                       -1).mean(1)
        owner = torch.arange(count, device=device).repeat_interleave(self.points).expand(batch, n)
        return tokens, token_pos, pooled, valid, owner
