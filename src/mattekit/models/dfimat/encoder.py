"""ISCN's image side: a backbone chosen by name and an FPN pixel decoder (X-Decoder's structure: Zou et al.,
"Generalized Decoding for Pixel, Image, and Language", CVPR 2023, arXiv 2212.11270, §3).

The backbone's stages at 1/4, 1/8, 1/16 and 1/32 become, after the pixel decoder, three ``hidden``-channel
feature maps at 1/32, 1/16 and 1/8 (the decoder's cross-attention levels) and the 1/4 mask features (the
MaskPredictor's dot product). The 1/32 map first passes ``pixel_layers`` transformer encoder layers (post-norm, the sine
position encoding added to queries and keys, as DETR's encoder), then a top-down path adds each finer lateral
map to the upsampled coarser one.

Example:
    >>> import torch
    >>> enc = ImageEncoder("efficientnet_lite0", hidden=32, pixel_layers=1, heads=2, ffn=64)
    >>> levels, mask_features = enc(torch.zeros(1, 3, 64, 64))
    >>> [tuple(x.shape[-2:]) for x in levels], tuple(mask_features.shape)
    ([(2, 2), (4, 4), (8, 8)], (1, 32, 16, 16))
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from mattekit.errors import UsageError
from mattekit.models.gfm_encoders import build_encoder

BACKBONES = ("r34", "efficientnet_lite0")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def sine_position(height: int, width: int, channels: int, device=None) -> torch.Tensor:
    """DETR's 2-D sine position encoding, (channels, height, width): half the channels for y, half for x."""
    quarter = channels // 4
    freq = 10000 ** (-torch.arange(quarter, device=device, dtype=torch.float32) / max(quarter, 1))
    y = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height * 2 * math.pi
    x = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width * 2 * math.pi
    ey, ex = y[:, None] * freq, x[:, None] * freq  # (H, q), (W, q)
    ey = torch.cat([ey.sin(), ey.cos()], 1)[:, None, :].expand(height, width, -1)
    ex = torch.cat([ex.sin(), ex.cos()], 1)[None, :, :].expand(height, width, -1)
    out = torch.cat([ey, ex], 2).permute(2, 0, 1)
    return F.pad(out, (0, 0, 0, 0, 0, channels - out.shape[0]))


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, channels), channels)


class Backbone(nn.Module):
    """The stages at 1/4, 1/8, 1/16, 1/32 of ``name`` (inputs: raw 0-255 RGB floats, normalised here as the
    backbone's ImageNet weights expect)."""

    def __init__(self, name: str):
        super().__init__()
        if name not in BACKBONES:
            raise UsageError(f"unknown ISCN backbone {name!r}; choose one of: {', '.join(BACKBONES)}.")
        self.encoder = build_encoder(name)
        self.name = name
        self.channels = self.encoder.channels[1:5]
        if name == "r34":
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255, persistent=False)
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255, persistent=False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        if self.name == "r34":
            image = (image - self.mean) / self.std
        return self.encoder(image)[1:5]

    def load_imagenet(self, override: str | None = None) -> None:
        self.encoder.load_imagenet(override)


class EncoderLayer(nn.Module):
    """A post-norm transformer layer (self-attention with the position added to queries and keys, FFN)."""

    def __init__(self, hidden: int, heads: int, ffn: int):
        super().__init__()
        self.attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn), nn.ReLU(inplace=True), nn.Linear(ffn, hidden))
        self.norms = nn.ModuleList([nn.LayerNorm(hidden), nn.LayerNorm(hidden)])

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        x = self.norms[0](x + self.attention(x + pos, x + pos, x, need_weights=False)[0])
        return self.norms[1](x + self.ffn(x))


class PixelDecoder(nn.Module):
    """FPN with a transformer on the coarsest level: backbone stages -> ([1/32, 1/16, 1/8], 1/4 mask features)."""

    def __init__(self, in_channels, hidden: int, pixel_layers: int, heads: int, ffn: int):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Sequential(nn.Conv2d(c, hidden, 1, bias=False), group_norm(hidden))
                                     for c in in_channels)
        self.output = nn.ModuleList(nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1, bias=False),
                                                  group_norm(hidden), nn.ReLU(inplace=True))
                                    for _ in in_channels[:-1])
        self.transformer = nn.ModuleList(EncoderLayer(hidden, heads, ffn) for _ in range(pixel_layers))
        self.mask_features = nn.Conv2d(hidden, hidden, 1)

    def forward(self, stages: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        coarse = self.lateral[-1](stages[-1])
        if len(self.transformer):
            b, c, h, w = coarse.shape
            pos = sine_position(h, w, c, coarse.device).flatten(1).T[None]
            x = coarse.flatten(2).transpose(1, 2)
            for layer in self.transformer:
                x = layer(x, pos)
            coarse = x.transpose(1, 2).reshape(b, c, h, w)
        maps = [coarse]
        for i in range(len(stages) - 2, -1, -1):
            up = F.interpolate(maps[-1], size=stages[i].shape[-2:], mode="bilinear", align_corners=False)
            maps.append(self.output[i](self.lateral[i](stages[i]) + up))
        return maps[:3], self.mask_features(maps[3])


class ImageEncoder(nn.Module):
    """Backbone + pixel decoder; ``forward(image 0-255) -> ([F_1/32, F_1/16, F_1/8], mask features at 1/4)``."""

    def __init__(self, backbone: str, hidden: int, pixel_layers: int, heads: int, ffn: int):
        super().__init__()
        self.backbone = Backbone(backbone)
        self.pixel_decoder = PixelDecoder(self.backbone.channels, hidden, pixel_layers, heads, ffn)

    def forward(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        return self.pixel_decoder(self.backbone(image))
