"""ISCN, DFIMat's interactive semantic capture network (Jiao et al., "DFIMat: Decoupled Flexible Interactive Matting
in Multi-Person Scenarios", ACCV 2024, arXiv 2410.09788, §3.2), with its contrastive reasoning module (CRM).

Data flow (Fig. 2a): image -> image encoder + pixel decoder -> F_v (1/32, 1/16, 1/8) and the 1/4 mask features
(``encode``, done once per image and cached); then per target and round (``decode``): the CRM turns the conflict
map M_ref (0/1/2, ``mattekit.interactive.conflict.conflict_map``) into an embedding E_c (one learned vector per
value: a 1x1 convolution of the one-hot map), resized to every level and added, F_v = resize(E_c) + F_v; the visual
sampler and the text encoder give P_v and P_t in the same space; the decoder (with the previous round's mask
feeding its memory queries) gives every query's mask and class, and the target's mask M and class C.

Inputs are raw 0-255 RGB floats whose sides are multiples of 32; masks come out at 1/4 of the input.

Example:
    >>> import torch
    >>> from mattekit.interactive.prompts import Click, Text
    >>> net = ISCN(iscn_settings("tiny")).eval()
    >>> target = make_target([Click(20, 30), Text("the person on the left")], (64, 64))
    >>> out = net(torch.zeros(1, 3, 64, 64), [target])
    >>> tuple(out["mask"].shape), tuple(out["class"].shape)
    ((1, 16, 16), (1, 2))
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mattekit.models.dfimat.decoder import Decoder
from mattekit.models.dfimat.encoder import ImageEncoder, sine_position
from mattekit.models.dfimat.prompts import Target, VisualSampler, make_target
from mattekit.models.dfimat.settings import ISCNSettings, iscn_settings
from mattekit.models.dfimat.text import build_text_encoder

__all__ = ["ISCN", "ConflictEmbedding", "iscn_settings", "make_target"]

CONFLICT_VALUES = 3


class ConflictEmbedding(nn.Module):
    """E_c: M_ref (B, H, W) long 0/1/2 -> (B, C, h, w), each value a learned C-vector, averaged over the pixels
    that each output pixel covers."""

    def __init__(self, hidden: int):
        super().__init__()
        self.embed = nn.Conv2d(CONFLICT_VALUES, hidden, 1, bias=False)

    def forward(self, conflict: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        one_hot = F.one_hot(conflict, CONFLICT_VALUES).permute(0, 3, 1, 2).float()
        return self.embed(F.adaptive_avg_pool2d(one_hot, size))


class ISCN(nn.Module):
    """The semantic capture network; ``settings`` from ``iscn_settings`` (see ``settings``)."""

    def __init__(self, settings: ISCNSettings | None = None):
        super().__init__()
        s = self.settings = settings or iscn_settings()
        self.image_encoder = ImageEncoder(s.backbone, s.hidden, s.pixel_layers, s.heads, s.ffn)
        self.crm = ConflictEmbedding(s.hidden)
        self.visual_sampler = VisualSampler(s.hidden, s.points)
        self.text_encoder = build_text_encoder(s.text_encoder, s.hidden, s.text_vocab, s.text_length)
        self.decoder = Decoder(s.hidden, s.heads, s.ffn, s.layers, s.object_queries, s.text_queries,
                               s.visual_queries, s.memory_tokens)

    def load_imagenet(self, override: str | None = None) -> None:
        self.image_encoder.backbone.load_imagenet(override)

    def encode(self, images: torch.Tensor) -> dict:
        """The per-image work: F_v levels, their positions and the mask features, for (N, 3, H, W) 0-255 images."""
        levels, mask_features = self.image_encoder(images)
        positions = [sine_position(*x.shape[-2:], x.shape[1], x.device) for x in levels]
        return {"levels": levels, "positions": positions, "mask_features": mask_features,
                "size": tuple(images.shape[-2:])}

    def decode(self, features: dict, targets: list[Target]) -> dict:
        """One round for each target (its image: ``target.image``); see ``Decoder.select`` for the outputs."""
        which = torch.tensor([t.image for t in targets], device=features["mask_features"].device)
        size = features["size"]
        conflict = torch.stack([t.conflict.to(which.device) if t.conflict is not None
                                else torch.zeros(size, dtype=torch.long, device=which.device) for t in targets])
        embedding = self.crm(conflict, features["mask_features"].shape[-2:])
        levels = [x[which] + F.adaptive_avg_pool2d(embedding, x.shape[-2:]) for x in features["levels"]]
        mask_features = features["mask_features"][which] + embedding
        visual = self.visual_sampler(targets, levels, features["positions"], mask_features, size)
        text = self.text_encoder([t.text for t in targets])
        previous = [None if t.previous is None else t.previous.to(which.device) for t in targets]
        return self.decoder(levels, features["positions"], mask_features, visual, text, previous)

    def forward(self, images: torch.Tensor, targets: list[Target]) -> dict:
        return self.decode(self.encode(images), targets)
