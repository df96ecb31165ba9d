"""MRN, DFIMat's matting refinement network (Jiao et al., ACCV 2024, arXiv 2410.09788, §3.3, Fig. 2b).

image ⊕ coarse mask (4 channels) -> a global branch (``global_branch.HierarchicalTransformer``, 1/4 ... 1/32) and
a local branch (three stride-2 3x3 convolutions with batch norm and ReLU: 1/2, 1/4, 1/8) -> feature assembling
(the deepest global map upsampled to 1/8, joined with the deepest local map by a 3x3 convolution) -> progressive
fusion from the global latent (stride-1 3x3 convolutions, each after a 2x upsampling and joined with the
assembled features at 1/8, the local maps at 1/4 and 1/2 and the input at 1/1) -> alpha at 1/8, 1/4 and 1/1
(3x3 convolution, sigmoid, bilinear upsampling) -> two PRM steps.

PRM, the progressive refinement module of Mask Guided Matting (Yu et al., "Mask Guided Matting via Progressive
Refinement Network", CVPR 2021, arXiv 2012.06722, §3.2): alpha = alpha_1/8; the pixels that are neither 0 nor 1
(1/255 <= alpha <= 254/255), dilated with an ellipse of width w1, take alpha_1/4; the same on the result with w2
takes alpha_1/1. The widths are ``prm_widths`` halved at inference (MGMatting's test kernels 15 and 7) and drawn
from 1..width in training (its random self-guidance); an even width is rounded up to the next odd size.

Inputs: raw 0-255 RGB floats and a mask in [0, 1], sides multiples of 32.

Example:
    >>> import torch
    >>> net = MRN(mrn_settings("tiny")).eval()
    >>> out = net(torch.zeros(1, 3, 64, 64), torch.zeros(1, 1, 64, 64))
    >>> sorted(out), tuple(out["alpha"].shape)
    (['alpha', 'alpha_os1', 'alpha_os4', 'alpha_os8', 'region_os1', 'region_os4'], (1, 1, 64, 64))
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mattekit.models.dfimat.encoder import IMAGENET_MEAN, IMAGENET_STD
from mattekit.models.dfimat.global_branch import HierarchicalTransformer
from mattekit.models.dfimat.settings import MRNSettings, mrn_settings

__all__ = ["MRN", "mrn_settings", "uncertain_region"]


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def ellipse_kernel(width: int, device=None) -> torch.Tensor:
    """A filled ellipse (here a disc) of odd size ``width`` (rounded up), as a (1, 1, k, k) float kernel."""
    k = width // 2 * 2 + 1
    r = torch.arange(k, device=device, dtype=torch.float32) - k // 2
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= (k / 2) ** 2).float()[None, None]


def dilate(mask: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Binary dilation of a (B, 1, H, W) 0/1 float ``mask`` by a symmetric (1, 1, k, k) 0/1 ``kernel`` whose rows
    are centred runs (an ellipse), outside the image counting as 0: what ``conv2d(mask, kernel) > 0`` gives, as a
    horizontal max-pool per distinct run length, shifted row by row (a 1-channel convolution with a large kernel
    is slow on a CPU: 1.1 s against 0.15 s for width 15 at 1024x576).

    >>> m = torch.zeros(1, 1, 5, 5); m[0, 0, 2, 2] = 1
    >>> dilate(m, ellipse_kernel(3))[0, 0].int().tolist()
    [[0, 0, 0, 0, 0], [0, 1, 1, 1, 0], [0, 1, 1, 1, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 0]]
    """
    rows, height = kernel[0, 0], mask.shape[-2]
    reach = rows.shape[0] // 2
    runs, out = {}, None
    for dy, row in enumerate(rows):
        half = int(row.sum()) // 2
        if half not in runs:
            runs[half] = F.pad(F.max_pool2d(mask, (1, 2 * half + 1), stride=1, padding=(0, half)), (0, 0, reach, reach))
        shifted = runs[half][..., dy:dy + height, :]
        out = shifted if out is None else torch.maximum(out, shifted)
    return out > 0


def uncertain_region(alpha: torch.Tensor, width: int) -> torch.Tensor:
    """MGMatting's region: pixels with 1/255 <= alpha <= 1 - 1/255, dilated with an ellipse of ``width`` (B,1,H,W)
    bool."""
    unknown = ((alpha >= 1 / 255) & (alpha <= 1 - 1 / 255)).float()
    return dilate(unknown, ellipse_kernel(width, alpha.device))


class MRN(nn.Module):
    """The refinement network; ``settings`` from ``mrn_settings``."""

    def __init__(self, settings: MRNSettings | None = None):
        super().__init__()
        s = self.settings = settings or mrn_settings()
        self.global_branch = HierarchicalTransformer(4, s.global_channels, s.global_depths, s.global_heads,
                                                     s.reduction)
        local = s.local_channels
        self.local_branch = nn.ModuleList([conv_bn_relu(4, local[0], 2), conv_bn_relu(local[0], local[1], 2),
                                           conv_bn_relu(local[1], local[2], 2)])
        f = s.fusion_channels
        self.assembling = conv_bn_relu(s.global_channels[-1] + local[2], f[2])
        self.fusion = nn.ModuleList([conv_bn_relu(s.global_channels[-1], f[0]), conv_bn_relu(f[0], f[1]),
                                     conv_bn_relu(f[1] + f[2], f[2]), conv_bn_relu(f[2] + local[1], f[3]),
                                     conv_bn_relu(f[3] + local[0], f[4]), conv_bn_relu(f[4] + 4, f[5])])
        self.heads = nn.ModuleDict({"os8": nn.Conv2d(f[2], 1, 3, padding=1), "os4": nn.Conv2d(f[3], 1, 3, padding=1),
                                    "os1": nn.Conv2d(f[5], 1, 3, padding=1)})
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255, persistent=False)

    def prm_widths(self) -> tuple[int, int]:
        if self.training:
            return tuple(int(torch.randint(1, w + 1, ())) for w in self.settings.prm_widths)
        return tuple(max(1, w // 2) for w in self.settings.prm_widths)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> dict:
        x = torch.cat([(image - self.mean) / self.std, mask], 1)
        deepest = self.global_branch(x)[-1]
        local = []
        y = x
        for conv in self.local_branch:
            y = conv(y)
            local.append(y)
        up = lambda t, like: F.interpolate(t, size=like.shape[-2:], mode="bilinear", align_corners=False)  # noqa
        assembled = self.assembling(torch.cat([up(deepest, local[2]), local[2]], 1))
        p = self.fusion[0](deepest)
        p = self.fusion[1](F.interpolate(p, scale_factor=2, mode="bilinear", align_corners=False))
        p8 = self.fusion[2](torch.cat([up(p, assembled), assembled], 1))
        p4 = self.fusion[3](torch.cat([up(p8, local[1]), local[1]], 1))
        p2 = self.fusion[4](torch.cat([up(p4, local[0]), local[0]], 1))
        p1 = self.fusion[5](torch.cat([up(p2, x), x], 1))
        out = {f"alpha_{k}": up(torch.sigmoid(self.heads[k](p)), x) for k, p in (("os8", p8), ("os4", p4),
                                                                                  ("os1", p1))}
        first, second = self.prm_widths()
        alpha = out["alpha_os8"]
        out["region_os4"] = uncertain_region(alpha.detach(), first)
        alpha = torch.where(out["region_os4"], out["alpha_os4"], alpha)
        out["region_os1"] = uncertain_region(alpha.detach(), second)
        out["alpha"] = torch.where(out["region_os1"], out["alpha_os1"], alpha)
        return out
