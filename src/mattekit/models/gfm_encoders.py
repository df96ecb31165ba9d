"""GFM's shared encoders: a backbone cut into stages E0..E4 (E0..E6 for r34_2b), each halving the resolution.

Each encoder keeps the whole backbone as an attribute (``resnet``, ``densenet`` or ``efficientnet``) and exposes
its stages as ``encoder0``, ``encoder1``, ... built from the backbone's own modules, exactly as the official code
does; so a state_dict holds every encoder tensor twice (``resnet.layer2.0.conv1.weight`` and
``encoder2.0.conv1.weight``), which is what the released checkpoints contain (notes §1.5).

| name | stages (channels @ stride) |
| --- | --- |
| r34 | 64@2, 64@4, 128@8, 256@16, 512@32 |
| r101 | 64@2, 256@4, 512@8, 1024@16, 2048@32 |
| d121 | 64@2, 128@4, 256@8, 512@16, 512@32 (dense block 4, 3x3 conv to 512, max-pool) |
| r34_2b | 64@1 (new 3x3 stem), 64@1, 128@2, 256@4, 512@8, 512@16, 512@32 (max-pool + 3 basic blocks each) |
| efficientnet_lite0 | 16@2, 24@4, 40@8, 112@16, 320@32 (input scaled inside: (x - 127) / 128) |

Inputs are raw 0-255 RGB floats (the official weights' convention).

Example:
    >>> import torch
    >>> enc = build_encoder("r34")
    >>> [f.shape[1] for f in enc(torch.zeros(1, 3, 64, 64))]
    [64, 64, 128, 256, 512]
"""

from __future__ import annotations

import torch
from torch import nn

from mattekit.errors import UsageError
from mattekit.models.backbones import create_backbone, load_imagenet
from mattekit.models.backbones.efficientnet_lite import INPUT_MEAN, INPUT_STD
from mattekit.models.backbones.resnet import BasicBlock


class Encoder(nn.Module):
    """Runs the stages in turn and returns every stage's output (E0 first)."""

    backbone_name: str
    backbone_attr: str
    channels: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for i in range(len(self.channels)):
            x = getattr(self, f"encoder{i}")(x)
            features.append(x)
        return features

    def load_imagenet(self, override: str | None = None) -> None:
        """Initialise the backbone with its ImageNet weights (the stages share them)."""
        load_imagenet(getattr(self, self.backbone_attr), self.backbone_name, override)


class ResNetEncoder(Encoder):
    def __init__(self, name: str):
        super().__init__()
        self.backbone_name, self.backbone_attr = name, "resnet"
        self.resnet = net = create_backbone(name)
        self.encoder0 = nn.Sequential(net.conv1, net.bn1, net.relu)
        self.encoder1 = nn.Sequential(net.maxpool, net.layer1)
        self.encoder2, self.encoder3, self.encoder4 = net.layer2, net.layer3, net.layer4
        width = net.layer1[-1].bn2.num_features * (4 if name == "resnet101" else 1)
        self.channels = (64, width, width * 2, width * 4, width * 8)


class ResNet2bEncoder(Encoder):
    """ResNet-34 with a stride-1 3x3 stem, no first max-pool, and two extra stages E5, E6 (Table 4's "r2b")."""

    def __init__(self):
        super().__init__()
        self.backbone_name, self.backbone_attr = "resnet34", "resnet"
        self.resnet = net = create_backbone("resnet34")
        self.encoder0 = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True))
        self.encoder1, self.encoder2, self.encoder3, self.encoder4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.encoder5 = nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True), *(BasicBlock(512, 512) for _ in range(3)))
        self.encoder6 = nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True), *(BasicBlock(512, 512) for _ in range(3)))
        self.channels = (64, 64, 128, 256, 512, 512, 512)


class DenseNetEncoder(Encoder):
    """DenseNet-121 without its first max-pool; E4 adds a 3x3 conv to 512 channels and a max-pool."""

    def __init__(self):
        super().__init__()
        self.backbone_name, self.backbone_attr = "densenet121", "densenet"
        self.densenet = net = create_backbone("densenet121")
        f = net.features
        self.encoder0 = nn.Sequential(f.conv0, f.norm0, f.relu0)
        self.encoder1 = nn.Sequential(f.denseblock1, f.transition1)
        self.encoder2 = nn.Sequential(f.denseblock2, f.transition2)
        self.encoder3 = nn.Sequential(f.denseblock3, f.transition3)
        self.encoder4 = nn.Sequential(f.denseblock4, nn.Conv2d(1024, 512, 3, padding=1), nn.BatchNorm2d(512),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(2, 2, ceil_mode=True))
        self.channels = (64, 128, 256, 512, 512)


class ScaleInput(nn.Module):
    """(x - mean) / std with constants (no parameters)."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class EfficientNetEncoder(Encoder):
    """EfficientNet-Lite0 up to its last MBConv block (the 1280-channel head and classifier stay unused)."""

    def __init__(self):
        super().__init__()
        self.backbone_name, self.backbone_attr = "efficientnet_lite0", "efficientnet"
        self.efficientnet = net = create_backbone("efficientnet_lite0")
        blocks = net._blocks
        self.encoder0 = nn.Sequential(ScaleInput(INPUT_MEAN, INPUT_STD), net._conv_stem, net._bn0, net._relu6,
                                      blocks[0])
        self.encoder1 = nn.Sequential(*blocks[1:3])
        self.encoder2 = nn.Sequential(*blocks[3:5])
        self.encoder3 = nn.Sequential(*blocks[5:11])
        self.encoder4 = nn.Sequential(*blocks[11:16])
        self.channels = (16, 24, 40, 112, 320)


ENCODERS = {
    "r34": lambda: ResNetEncoder("resnet34"),
    "r101": lambda: ResNetEncoder("resnet101"),
    "d121": DenseNetEncoder,
    "r34_2b": ResNet2bEncoder,
    "efficientnet_lite0": EfficientNetEncoder,
}


def build_encoder(name: str) -> Encoder:
    """The GFM encoder for backbone ``name`` (one of :data:`ENCODERS`), randomly initialised."""
    if name not in ENCODERS:
        raise UsageError(f"unknown GFM backbone {name!r}; choose one of: {', '.join(ENCODERS)}.")
    return ENCODERS[name]()
