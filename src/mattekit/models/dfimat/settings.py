"""DFIMat's sizes (Jiao et al., "DFIMat: Decoupled Flexible Interactive Matting in Multi-Person Scenarios", ACCV
2024, arXiv 2410.09788): every number the paper leaves open is a setting here, with the choice in docs/dfimat.md.

``ISCN_PRESETS`` and ``MRN_PRESETS`` name full-size (``dfimat``), small (``dfimat-s``, about a third of the
parameters) and ``tiny`` (tests and CPU examples) versions; ``iscn_settings(preset, **changes)`` gives one with
some values changed, and rejects names it does not know.

Example:
    >>> iscn_settings("dfimat-s").hidden, iscn_settings("tiny", layers=2).layers
    (192, 2)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from mattekit.errors import UsageError


@dataclass(frozen=True)
class ISCNSettings:
    """The interactive semantic capture network (§3.2)."""

    backbone: str = "r34"  # image encoder: r34 (ResNet-34) or efficientnet_lite0
    hidden: int = 256  # width of the pixel decoder, queries and tokens (X-Decoder: 512)
    heads: int = 8  # attention heads
    layers: int = 9  # decoder layers, cross-attention round-robin over 1/32, 1/16, 1/8 (X-Decoder: 9)
    ffn: int = 1024  # hidden width of the decoder FFN (X-Decoder: 2048)
    pixel_layers: int = 2  # transformer layers of the pixel decoder on the 1/32 features (X-Decoder: 6)
    object_queries: int = 16  # learnable object queries Q_o (X-Decoder: 101)
    visual_queries: int = 3  # visual queries Q_v per visual prompt (SEEM: 3 candidates per prompt)
    text_queries: int = 3  # text queries Q_t for the sentence
    memory_tokens: int = 8  # tokens reading the previous round's mask (SEEM's spatial memories: 32)
    points: int = 64  # points the visual sampler takes per prompt and level (SEEM: up to 512)
    text_encoder: str = "hashed"  # hashed (a trainable token table) or minilm (frozen MiniLM-L6 + projection)
    text_vocab: int = 8192  # buckets of the hashed token table
    text_length: int = 24  # tokens kept per sentence

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MRNSettings:
    """The matting refinement network (§3.3)."""

    global_channels: tuple = (32, 64, 160, 256)  # the hierarchical transformer's stages at 1/4, 1/8, 1/16, 1/32
    global_depths: tuple = (2, 2, 2, 2)  # transformer blocks per stage
    global_heads: tuple = (1, 2, 5, 8)
    reduction: tuple = (8, 4, 2, 1)  # spatial reduction of keys and values per stage (efficient attention)
    local_channels: tuple = (32, 64, 128)  # the three stride-2 convolutions at 1/2, 1/4, 1/8
    fusion_channels: tuple = (256, 128, 96, 64, 32, 16)  # progressive fusion at 1/32, 1/16, 1/8, 1/4, 1/2, 1
    prm_widths: tuple = (30, 15)  # PRM dilation widths (MGMatting self_refine_width1/2)

    def as_dict(self) -> dict:
        return asdict(self)


ISCN_PRESETS = {
    "dfimat": ISCNSettings(),
    "dfimat-s": ISCNSettings(backbone="efficientnet_lite0", hidden=192, heads=6, layers=6, ffn=768, pixel_layers=1,
                             object_queries=8, memory_tokens=4, points=32),
    "tiny": ISCNSettings(backbone="efficientnet_lite0", hidden=32, heads=2, layers=3, ffn=64, pixel_layers=1,
                         object_queries=4, visual_queries=2, text_queries=2, memory_tokens=2, points=16,
                         text_vocab=512, text_length=12),
}

MRN_PRESETS = {
    "dfimat": MRNSettings(),
    "dfimat-s": MRNSettings(global_channels=(16, 32, 96, 160), global_heads=(1, 2, 3, 5),
                            local_channels=(16, 32, 64), fusion_channels=(160, 96, 64, 32, 16, 16)),
    "tiny": MRNSettings(global_channels=(8, 16, 24, 32), global_depths=(1, 1, 1, 1), global_heads=(1, 1, 2, 2),
                        local_channels=(8, 16, 24), fusion_channels=(32, 24, 16, 16, 8, 8)),
}


def _pick(presets: dict, kind: str, preset: str, changes: dict):
    if preset not in presets:
        raise UsageError(f"unknown {kind} preset {preset!r}; choose one of: {', '.join(presets)}.")
    names = {f.name for f in fields(presets[preset])}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise UsageError(f"{kind} has no setting {unknown[0]!r}; its settings: {', '.join(sorted(names))}.")
    changes = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}
    return replace(presets[preset], **changes)


def iscn_settings(preset: str = "dfimat", **changes) -> ISCNSettings:
    """The ISCN ``preset`` with ``changes`` applied."""
    return _pick(ISCN_PRESETS, "ISCN", preset, changes)


def mrn_settings(preset: str = "dfimat", **changes) -> MRNSettings:
    """The MRN ``preset`` with ``changes`` applied."""
    return _pick(MRN_PRESETS, "MRN", preset, changes)
