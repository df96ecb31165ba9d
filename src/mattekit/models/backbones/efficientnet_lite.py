"""EfficientNet-Lite0 (Tan & Le, 2019; the "Lite" edge variant: no squeeze-excitation, ReLU6, fixed stem and head).

Module names follow the TensorFlow-to-PyTorch conversion whose ImageNet weights are the weight source
``efficientnet-lite0-imagenet`` (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv/_bn0/_depthwise_conv/_bn1/
_project_conv/_bn2``, ``_conv_head``, ``_bn1``, ``_fc``), so that file loads with ``strict=True``. Convolutions pad
like TensorFlow's ``SAME`` (one extra pixel at the bottom/right when a strided window does not fit evenly) and
batch norm uses TensorFlow's epsilon 1e-3, as the converted weights expect. Inputs are RGB scaled with
``(x - 127) / 128`` (``INPUT_MEAN``/``INPUT_STD``), the Lite models' preprocessing.

Example:
    >>> import torch
    >>> net = efficientnet_lite0()
    >>> net(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 1000])
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

INPUT_MEAN = 127.0
INPUT_STD = 128.0

# kernel, repeats, input channels, output channels, expansion, stride of the first block
LITE0_STAGES = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
                (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1))


class SameConv2d(nn.Conv2d):
    """A convolution padded like TensorFlow's ``SAME``: output size ceil(input / stride), extra pad bottom/right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise kxk (strided), 1x1 projection; identity skip when shapes allow."""

    def __init__(self, kernel: int, cin: int, cout: int, expand: int, stride: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = batch_norm(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = batch_norm(mid)
        self._project_conv = SameConv2d(mid, cout, 1, bias=False)
        self._bn2 = batch_norm(cout)
        self._relu6 = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        out = self._relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite(nn.Module):
    """Stem (3x3 stride 2, 32 channels), MBConv blocks, 1x1 head to 1280 channels, average pool, classifier."""

    def __init__(self, stages=LITE0_STAGES, head_channels: int = 1280, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, stages[0][2], 3, stride=2, bias=False)
        self._bn0 = batch_norm(stages[0][2])
        blocks = []
        for kernel, repeats, cin, cout, expand, stride in stages:
            for r in range(repeats):
                blocks.append(MBConvBlock(kernel, cin if r == 0 else cout, cout, expand, stride if r == 0 else 1))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(stages[-1][3], head_channels, 1, bias=False)
        self._bn1 = batch_norm(head_channels)
        self._fc = nn.Linear(head_channels, num_classes)
        self._relu6 = nn.ReLU6(inplace=True)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self._relu6(self._bn0(self._conv_stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits of ``x``, an RGB batch already scaled with (x - 127) / 128."""
        x = self.stem(x)
        for block in self._blocks:
            x = block(x)
        x = self._relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def efficientnet_lite0(num_classes: int = 1000) -> EfficientNetLite:
    """EfficientNet-Lite0: 16 MBConv blocks, 4.65 M parameters with the classifier."""
    return EfficientNetLite(LITE0_STAGES, 1280, num_classes)
