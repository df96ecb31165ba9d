"""DenseNet-121 (Huang et al., 2017) with torchvision's module and parameter names.

``features.conv0/norm0/relu0/pool0``, ``features.denseblockN.denselayerM.{norm1,conv1,norm2,conv2}``,
``features.transitionN.{norm,conv}``, ``features.norm5`` and ``classifier``, as in current torchvision, so its
ImageNet state_dict (after :func:`rename_legacy_keys`) and GFM checkpoints load with ``strict=True``.

Example:
    >>> import torch
    >>> net = densenet121()
    >>> net(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 1000])
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torch.nn import functional as F


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv to ``bn_size * growth`` channels, then BN-ReLU-3x3 conv to ``growth`` new channels."""

    def __init__(self, cin: int, growth: int, bn_size: int):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    """``depth`` dense layers; each sees the concatenation of the block input and all earlier layers' outputs."""

    def __init__(self, depth: int, cin: int, growth: int, bn_size: int):
        super().__init__({f"denselayer{i + 1}": DenseLayer(cin + i * growth, growth, bn_size) for i in range(depth)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv halving the channels, then 2x2 average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.pool = nn.AvgPool2d(2, stride=2)


class DenseNet(nn.Module):
    """The ImageNet DenseNet: 7x7 stem, max-pool, dense blocks joined by transitions, final BN and classifier."""

    def __init__(self, block_config: tuple[int, ...] = (6, 12, 24, 16), growth: int = 32, init_features: int = 64,
                 bn_size: int = 4, num_classes: int = 1000):
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, init_features, 7, stride=2, padding=3, bias=False))
        self.features.add_module("norm0", nn.BatchNorm2d(init_features))
        self.features.add_module("relu0", nn.ReLU(inplace=True))
        self.features.add_module("pool0", nn.MaxPool2d(3, stride=2, padding=1))
        channels = init_features
        for i, depth in enumerate(block_config, start=1):
            self.features.add_module(f"denseblock{i}", DenseBlock(depth, channels, growth, bn_size))
            channels += depth * growth
            if i != len(block_config):
                self.features.add_module(f"transition{i}", Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)
        self.out_channels = channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def densenet121(num_classes: int = 1000) -> DenseNet:
    """DenseNet-121: growth 32, blocks of 6-12-24-16 layers, 1024 output channels."""
    return DenseNet((6, 12, 24, 16), 32, 64, 4, num_classes)


_LEGACY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\.(weight|bias|running_mean|running_var)$")


def rename_legacy_keys(state_dict: dict) -> dict:
    """Map the 2017 torchvision DenseNet key style (``denselayer1.norm.1.weight``) to today's (``norm1.weight``).

    The published ImageNet file ``densenet121-a639ec97.pth`` still uses the old style.

    >>> list(rename_legacy_keys({"features.denseblock1.denselayer1.norm.1.weight": 0}))
    ['features.denseblock1.denselayer1.norm1.weight']
    """
    return {_LEGACY.sub(r"\1\2.\3", key): value for key, value in state_dict.items()}
