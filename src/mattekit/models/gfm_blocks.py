"""The building blocks of GFM's decoders (Li et al., "Bridging Composite and Real",
IJCV 2022, arXiv:2010.16188, §3; layer facts from the official ``core/gfm.py``, github.com/JizhiziLi/GFM).

- :func:`decoder_block`: three 3x3 conv-BN-ReLU layers, then an optional 2x bilinear upsampling (a D_G/D_F block).
- :class:`PyramidPooling`: the pyramid pooling module (PPM) of the glance decoder, pool sizes 1, 3, 5.
- :func:`side_branch`: 3x3 conv-BN-ReLU then upsampling, carrying the PPM's context to a lower decoder block.
- :func:`bridge_block`: three dilated (rate 2) 3x3 conv-BN-ReLU layers, the focus decoder's local context.
- :class:`SqueezeExcitation`: channel re-weighting used by the RoSTa integration module (RIM).

Sequential indices (conv at 0, 3, 6; BN at 1, 4, 7) match the official checkpoints' parameter names.

Example:
    >>> import torch
    >>> block = decoder_block(8, 4, 4, 2)
    >>> block(torch.zeros(1, 8, 5, 5)).shape
    torch.Size([1, 2, 10, 10])
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def upsample(scale: int) -> nn.Upsample:
    return nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=False)


def conv_bn_relu(cin: int, cout: int, dilation: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def decoder_block(cin: int, mid1: int, mid2: int, cout: int, last_bn_relu: bool = True, up: bool = True,
                  dilation: int = 1) -> nn.Sequential:
    """Conv-BN-ReLU (cin->mid1), conv-BN-ReLU (mid1->mid2, dilated if asked), conv (mid2->cout, dilated if asked)
    with BN-ReLU when ``last_bn_relu``, then 2x bilinear upsampling when ``up``."""
    layers = conv_bn_relu(cin, mid1) + conv_bn_relu(mid1, mid2, dilation)
    if last_bn_relu:
        layers += conv_bn_relu(mid2, cout, dilation)
    else:
        layers.append(nn.Conv2d(mid2, cout, 3, padding=dilation, dilation=dilation))
    if up:
        layers.append(upsample(2))
    return nn.Sequential(*layers)


def side_branch(cin: int, cout: int, scale: int) -> nn.Sequential:
    """3x3 conv-BN-ReLU then bilinear upsampling by ``scale`` (the official ``conv_up_psp``)."""
    return nn.Sequential(*conv_bn_relu(cin, cout), upsample(scale))


def bridge_block(cin: int, mid: int, cout: int) -> nn.Sequential:
    """Three 3x3 conv-BN-ReLU layers with dilation 2 (Qin et al., 2019)."""
    return nn.Sequential(*conv_bn_relu(cin, mid, 2), *conv_bn_relu(mid, cout, 2), *conv_bn_relu(cout, cout, 2))


def adaptive_avg_pool(x: torch.Tensor, size: int) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` written with slices and means, so that ONNX export works for sizes that
    do not divide the input (bin i spans floor(i*n/size) to ceil((i+1)*n/size), as PyTorch defines it)."""
    h, w = x.shape[-2:]
    if h % size == 0 and w % size == 0:
        return F.adaptive_avg_pool2d(x, size)
    rows = []
    for i in range(size):
        r0, r1 = (i * h) // size, -((-(i + 1) * h) // size)
        band = x[..., r0:r1, :].mean(dim=-2, keepdim=True)
        rows.append(torch.cat([band[..., (j * w) // size:-((-(j + 1) * w) // size)].mean(dim=-1, keepdim=True)
                               for j in range(size)], dim=-1))
    return torch.cat(rows, dim=-2)


class AdaptiveAvgPool(nn.Module):
    """Average pooling to ``size`` x ``size`` bins (:func:`adaptive_avg_pool`)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return adaptive_avg_pool(x, self.size)


class PyramidPooling(nn.Module):
    """PPM: average-pool to 1x1, 3x3, 5x5, 1x1 conv each (no bias), upsample back (align_corners=True), concatenate
    with the input, then a 1x1 conv with ReLU to ``cout`` channels."""

    def __init__(self, channels: int, cout: int, sizes: tuple[int, ...] = (1, 3, 5)):
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(AdaptiveAvgPool(s), nn.Conv2d(channels, channels, 1, bias=False)) for s in sizes)
        self.bottleneck = nn.Conv2d(channels * (len(sizes) + 1), cout, 1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pooled = [F.interpolate(stage(x), size=(h, w), mode="bilinear", align_corners=True) for stage in self.stages]
        return self.relu(self.bottleneck(torch.cat(pooled + [x], 1)))


class SqueezeExcitation(nn.Module):
    """Global average pool, FC (reduce) + ReLU, FC (expand) + sigmoid, channel-wise scaling (Hu et al., 2018)."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, channels, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.fc(x.mean(dim=(2, 3)))
        return x * weights[:, :, None, None]


def rim_module() -> nn.Sequential:
    """RoSTa integration: 1x1 conv 3->16, squeeze-excitation, 1x1 conv 16->1 (no final activation, as released)."""
    return nn.Sequential(nn.Conv2d(3, 16, 1), SqueezeExcitation(16, 4), nn.Conv2d(16, 1, 1))
