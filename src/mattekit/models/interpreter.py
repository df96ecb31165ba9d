"""DFIMat's interpreter: N person alphas and N "person or not" logits from diffusion features ``F̂``.

DFIMat (Jiao et al., ACCV 2024, arXiv 2410.09788, §4, Fig. 4, Eq. 8) reads each person's matte out of the
Stable Diffusion U-Net's features with a Mask2Former decoder (Cheng et al., "Masked-attention Mask Transformer for
Universal Image Segmentation", CVPR 2022, arXiv 2112.01527): a *pixel decoder* turns the multi-scale features into
per-pixel embeddings, and a *transformer decoder* refines N learnable queries by masked cross-attention to the
coarser scales (round robin), self-attention and a feed-forward layer; each query gives a class logit and a mask
embedding whose dot product with the per-pixel embeddings is the alpha's logit. Choices where the papers leave
room: the pixel decoder is an FPN (Mask2Former's §4.4 ablation lists it) rather than deformable attention; every
decoder layer is supervised (Mask2Former's deep supervision); and the alpha head is linear: a query's map at the
finest feature scale is its alpha directly, trained with the L1 loss and clipped to [0, 1] when read
(``mattekit.synthesis.interpret``). A sigmoid head under an L1 loss stalls: the background's majority drives the
maps into the sigmoid's flat tail, where the L1 gradient vanishes (on one image of the tiny test model, a sigmoid
head left one of two people unlearnt after 400 steps; the linear head learns both; docs/synthesis.md).

Loss (Eq. 8): ``λ·BCE(class) + L1(alpha)`` with λ = 0.1 on the class term, as the equation writes it; queries are
matched to instances by the Hungarian algorithm on the cost that the loss itself assigns (``match``).

Example:
    >>> net = Interpreter([28, 20], queries=4, width=32, layers=2)
    >>> out = net([torch.zeros(1, 28, 4, 4), torch.zeros(1, 20, 8, 8)])
    >>> tuple(out["logits"].shape), tuple(out["alphas"].shape)
    ((1, 4), (1, 4, 8, 8))
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn


def sine_positions(feature: torch.Tensor) -> torch.Tensor:
    """2-D sine position encoding (B, h*w, C) for a feature map (B, C, h, w) (Vaswani et al.; DETR's form)."""
    b, c, h, w = feature.shape
    quarter = c // 4
    freqs = 10000 ** (-torch.arange(quarter, device=feature.device, dtype=torch.float32) / quarter)
    ys = torch.linspace(0, 2 * math.pi, h, device=feature.device)[:, None, None] * freqs
    xs = torch.linspace(0, 2 * math.pi, w, device=feature.device)[None, :, None] * freqs
    grid = torch.cat([ys.sin().expand(h, w, quarter), ys.cos().expand(h, w, quarter),
                      xs.sin().expand(h, w, quarter), xs.cos().expand(h, w, quarter)], -1)
    grid = F.pad(grid, (0, c - 4 * quarter))
    return grid.reshape(1, h * w, c).expand(b, -1, -1).to(feature.dtype)


class PixelDecoder(nn.Module):
    """FPN: every scale projected to ``width``, fused from coarse to fine; per-pixel embeddings at the finest."""

    def __init__(self, channels: list[int], width: int):
        super().__init__()
        groups = min(32, width // 4)
        self.lateral = nn.ModuleList(nn.Sequential(nn.Conv2d(c, width, 1), nn.GroupNorm(groups, width))
                                     for c in channels)
        self.smooth = nn.ModuleList(nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.GroupNorm(groups, width),
                                                  nn.ReLU()) for _ in channels)
        self.embed = nn.Conv2d(width, width, 1)

    def forward(self, levels: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(fused maps coarse to fine, per-pixel embeddings at the finest scale)."""
        fused, above = [], None
        for x, lateral, smooth in zip(levels, self.lateral, self.smooth):
            y = lateral(x)
            if above is not None:
                y = y + F.interpolate(above, size=y.shape[-2:], mode="bilinear", align_corners=False)
            above = smooth(y)
            fused.append(above)
        return fused, self.embed(fused[-1])


class DecoderLayer(nn.Module):
    """Mask2Former's layer: masked cross-attention to one scale, self-attention among queries, feed-forward."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.cross = nn.MultiheadAttention(width, heads, batch_first=True)
        self.self_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(width, 4 * width), nn.ReLU(), nn.Linear(4 * width, width))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(3))

    def forward(self, q, pos, memory, memory_pos, blocked):
        q = self.norms[0](q + self.cross(q + pos, memory + memory_pos, memory, attn_mask=blocked)[0])
        q = self.norms[1](q + self.self_attn(q + pos, q + pos, q)[0])
        return self.norms[2](q + self.ffn(q))


class Interpreter(nn.Module):
    """Alphas and person logits of ``queries`` learnable queries from feature levels with ``channels``.

    ``forward(levels)`` takes the levels coarse to fine (``mattekit.synthesis.diffusion.features``) and returns
    ``{"logits": (B, N), "alphas": (B, N, h, w), "aux": [{"logits", "alphas"} of earlier layers]}``, ``h, w``
    the finest level's size; the alphas are not clipped (clip them to [0, 1] to use them).
    """

    def __init__(self, channels: list[int], queries: int = 20, width: int = 256, layers: int = 6, heads: int = 8):
        super().__init__()
        self.options = {"channels": list(channels), "queries": queries, "width": width, "layers": layers,
                        "heads": heads}
        self.pixel = PixelDecoder(channels, width)
        self.memory_levels = max(1, len(channels) - 1)  # the coarser scales; the finest gives the embeddings
        self.level_embed = nn.Embedding(self.memory_levels, width)
        self.query_feat = nn.Embedding(queries, width)
        self.query_pos = nn.Embedding(queries, width)
        self.layers = nn.ModuleList(DecoderLayer(width, heads) for _ in range(layers))
        self.heads = heads
        self.norm = nn.LayerNorm(width)
        self.classify = nn.Linear(width, 1)
        self.mask_embed = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                        nn.Linear(width, width))

    def predict(self, q: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = self.norm(q)
        return self.classify(q)[..., 0], torch.einsum("bnc,bchw->bnhw", self.mask_embed(q), pixels)

    def blocked(self, alphas: torch.Tensor, size) -> torch.Tensor:
        """Masked attention: a query sees only where its current alpha is over 0.5 (everywhere if nowhere)."""
        small = F.interpolate(alphas, size=size, mode="bilinear", align_corners=False).flatten(2) < 0.5
        small[small.all(-1)] = False
        return small.repeat_interleave(self.heads, 0).detach()

    def forward(self, levels: list[torch.Tensor]) -> dict:
        fused, pixels = self.pixel(levels)
        memory = fused[: self.memory_levels]
        b = pixels.shape[0]
        q = self.query_feat.weight[None].expand(b, -1, -1)
        pos = self.query_pos.weight[None].expand(b, -1, -1)
        logits, alphas = self.predict(q, pixels)
        outputs = []
        for i, layer in enumerate(self.layers):
            level = i % self.memory_levels
            m = memory[level]
            flat = m.flatten(2).transpose(1, 2) + self.level_embed.weight[level]
            q = layer(q, pos, flat, sine_positions(m), self.blocked(alphas, m.shape[-2:]))
            logits, alphas = self.predict(q, pixels)
            outputs.append({"logits": logits, "alphas": alphas})
        return {**outputs[-1], "aux": outputs[:-1]}


def match(logits: torch.Tensor, alphas: torch.Tensor, targets: torch.Tensor, class_weight: float = 0.1):
    """Hungarian matching of N queries to M instances for one image: (query indices, instance indices).

    The cost of giving instance j to query i is the change it makes to ``interpreter_loss``: the class term
    goes from BCE(l_i, 0) to BCE(l_i, 1), a difference of -l_i (times λ/N), and the pair adds its L1 (over M),
    so the matching minimises the loss itself. ``alphas`` (N, h, w) and ``targets`` (M, h, w) share a size.

    >>> q, t = match(torch.tensor([0.0, 0.0]), torch.stack([torch.zeros(2, 2), torch.ones(2, 2)]), torch.ones(1, 2, 2))
    >>> q.tolist(), t.tolist()
    ([1], [0])
    """
    n, m = alphas.shape[0], targets.shape[0]
    if m == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    l1 = torch.cdist(alphas.flatten(1), targets.flatten(1), p=1) / targets[0].numel()
    cost = -class_weight * logits[:, None] / n + l1 / m
    rows, cols = linear_sum_assignment(cost.detach().float().cpu().numpy())
    return rows, cols


def image_loss(logits, alphas, targets, class_weight: float = 0.1, alpha_weight: float = 1.0):
    """Eq. 8 for one image's predictions (N), (N, h, w) against its instance alphas (M, H, W): (total, class, L1).

    Predictions are resized to the targets' size before matching."""
    if alphas.shape[-2:] != targets.shape[-2:]:
        alphas = F.interpolate(alphas[None], size=targets.shape[-2:], mode="bilinear", align_corners=False)[0]
    rows, cols = match(logits, alphas, targets, class_weight)
    labels = torch.zeros_like(logits)
    labels[rows] = 1
    bce = F.binary_cross_entropy_with_logits(logits, labels)
    l1 = (alphas[rows] - targets[cols]).abs().mean() if len(rows) else alphas.sum() * 0
    return class_weight * bce + alpha_weight * l1, bce, l1


def interpreter_loss(out: dict, targets: list[torch.Tensor], class_weight: float = 0.1, alpha_weight: float = 1.0):
    """Eq. 8 averaged over a batch, summed over the final and every auxiliary layer: (total, {"bce", "l1"}) with
    the final layer's terms (detached, for logs)."""
    total = 0
    for layer in [out] + out["aux"]:
        terms = [image_loss(layer["logits"][b], layer["alphas"][b], t, class_weight, alpha_weight)
                 for b, t in enumerate(targets)]
        total = total + sum(t[0] for t in terms) / len(terms)
        if layer is out:
            final = {name: sum(t[k].detach() for t in terms) / len(terms) for k, name in ((1, "bce"), (2, "l1"))}
    return total, final
