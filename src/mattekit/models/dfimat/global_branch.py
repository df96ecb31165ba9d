"""MRN's global branch: a hierarchical transformer of four stages at 1/4, 1/8, 1/16 and 1/32 (DFIMat, Jiao et al.,
ACCV 2024, arXiv 2410.09788, §3.3, Fig. 2b "Global Branch").

The paper names only "a transformer-based encoder" of four stages of decreasing size. This one follows the
Mix Transformer of SegFormer (Xie et al., "SegFormer: Simple and Efficient Design for Semantic Segmentation with
Transformers", NeurIPS 2021, arXiv 2105.15203, §3.1), written here: each stage starts with an overlapping patch
embedding (a strided convolution, 7x7 stride 4 then 3x3 stride 2, and LayerNorm), then pre-norm blocks of
efficient self-attention (keys and values from the map shrunk ``reduction`` times by a strided convolution) and a
Mix-FFN (linear, 3x3 depthwise convolution, GELU, linear; 4x wide), and ends with a LayerNorm.

Example:
    >>> import torch
    >>> net = HierarchicalTransformer(4, (8, 16, 24, 32), (1, 1, 1, 1), (1, 1, 2, 2), (8, 4, 2, 1))
    >>> [tuple(x.shape) for x in net(torch.zeros(1, 4, 64, 64))]
    [(1, 8, 16, 16), (1, 16, 8, 8), (1, 24, 4, 4), (1, 32, 2, 2)]
"""

from __future__ import annotations

import torch
from torch import nn


class PatchEmbedding(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2)
        self.norm = nn.LayerNorm(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.norm(x.flatten(2).transpose(1, 2)), x.shape[-2:]


class EfficientAttention(nn.Module):
    """Multi-head self-attention whose keys and values come from the map reduced ``reduction`` times."""

    def __init__(self, width: int, heads: int, reduction: int):
        super().__init__()
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.reduce = nn.Conv2d(width, width, reduction, reduction) if reduction > 1 else None
        self.norm = nn.LayerNorm(width) if reduction > 1 else None

    def forward(self, x: torch.Tensor, size) -> torch.Tensor:
        keys = x
        if self.reduce is not None:
            grid = x.transpose(1, 2).reshape(x.shape[0], -1, *size)
            keys = self.norm(self.reduce(grid).flatten(2).transpose(1, 2))
        return self.attention(x, keys, keys, need_weights=False)[0]


class MixFFN(nn.Module):
    def __init__(self, width: int, ratio: int = 4):
        super().__init__()
        self.inner = nn.Linear(width, width * ratio)
        self.depthwise = nn.Conv2d(width * ratio, width * ratio, 3, padding=1, groups=width * ratio)
        self.act = nn.GELU()
        self.outer = nn.Linear(width * ratio, width)

    def forward(self, x: torch.Tensor, size) -> torch.Tensor:
        x = self.inner(x)
        grid = self.depthwise(x.transpose(1, 2).reshape(x.shape[0], -1, *size))
        return self.outer(self.act(grid.flatten(2).transpose(1, 2)))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, reduction: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = EfficientAttention(width, heads, reduction)
        self.ffn = MixFFN(width)

    def forward(self, x: torch.Tensor, size) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), size)
        return x + self.ffn(self.norm2(x), size)


class Stage(nn.Module):
    def __init__(self, cin: int, width: int, depth: int, heads: int, reduction: int, first: bool):
        super().__init__()
        self.embedding = PatchEmbedding(cin, width, 7 if first else 3, 4 if first else 2)
        self.blocks = nn.ModuleList(Block(width, heads, reduction) for _ in range(depth))
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, size = self.embedding(x)
        for block in self.blocks:
            x = block(x, size)
        return self.norm(x).transpose(1, 2).reshape(x.shape[0], -1, *size)


class HierarchicalTransformer(nn.Module):
    """Four stages; ``forward`` returns the maps at 1/4, 1/8, 1/16, 1/32."""

    def __init__(self, cin: int, channels, depths, heads, reductions):
        super().__init__()
        widths = (cin,) + tuple(channels)
        self.stages = nn.ModuleList(Stage(widths[i], widths[i + 1], depths[i], heads[i], reductions[i], i == 0)
                                    for i in range(len(channels)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out
