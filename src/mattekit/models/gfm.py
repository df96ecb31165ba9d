"""GFM, the Glance and Focus Matting network, as a composition of named parts (J. Li, J. Zhang, S. J. Maybank,
D. Tao, "Bridging Composite and Real: Towards End-to-end Deep Image Matting", IJCV 2022, arXiv:2010.16188, §3).

``forward`` reads as the data flow: the shared ``encoder`` turns a raw 0-255 RGB batch into stage features; the
``glance`` decoder (pyramid pooling module + side branches) and the ``focus`` decoder (bridge block + U-Net skips)
decode them in parallel; the ``heads`` turn each decoder's last features into a RoSTa map (TT: 3 classes,
FT/BT: 2) and a focus alpha; collaborative matting merges them (TT replace, FT add, BT subtract); with RoSTa
``rim`` three head pairs are merged separately and fused by the RoSTa integration module.

Each part keeps the official parameter names inside it (``psp_module``, ``decoder4_g``, ``bridge_block``, ...), and
``state_dict()``/``load_state_dict()`` drop/restore the part name, so a state_dict has exactly the keys of the
released checkpoints (``gfm_r34_tt.pth`` etc., docs/gfm.md) and those files load with ``strict=True``.

Table 4's ablations are switches: ``single_decoder`` (one decoder, the glance one, feeds both heads),
``ppm`` ("all": context to every glance block; "top": only to the first; "none": no PPM), ``bridge`` (False: no
bridge block). ``decoder6_dilation`` (r34_2b only): 2 dilates the 2nd and 3rd convs of ``decoder6_g``/``decoder6_f``,
as the network file of the release that produced the r34_2b checkpoint did; 1 follows the later code.

Example:
    >>> import torch
    >>> net = GFM("r34", "tt").eval()
    >>> out = net(torch.rand(1, 3, 64, 64) * 255)
    >>> out["glance"].shape, out["focus"].shape, out["alpha"].shape
    (torch.Size([1, 3, 64, 64]), torch.Size([1, 1, 64, 64]), torch.Size([1, 1, 64, 64]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mattekit.errors import UsageError
from mattekit.matting.merge import MERGE_RULES
from mattekit.models.gfm_blocks import PyramidPooling, bridge_block, decoder_block, rim_module, side_branch
from mattekit.models.gfm_encoders import ENCODERS, Encoder, build_encoder

ROSTAS = ("tt", "ft", "bt", "rim")
GLANCE_CLASSES = {"tt": 3, "ft": 2, "bt": 2}
PARTS = ("encoder", "glance", "focus", "heads")


@dataclass(frozen=True)
class DecoderSpec:
    """Widths of the decoder blocks, top level first: (mid1, mid2, out) each; ``head``: (mid1, mid2) of the
    output blocks, or None for a single 3x3 conv on full-resolution features (r34_2b)."""

    levels: tuple[tuple[int, int, int], ...]
    head: tuple[int, int] | None = (64, 64)


R34_LEVELS = ((512, 512, 256), (256, 256, 128), (128, 128, 64), (64, 64, 64))
DECODERS = {
    "r34": DecoderSpec(R34_LEVELS),
    "d121": DecoderSpec(R34_LEVELS),
    "r101": DecoderSpec(((2048, 1024, 1024), (1024, 512, 512), (512, 256, 256), (256, 128, 64))),
    "r34_2b": DecoderSpec(((512, 512, 512), (512, 512, 512)) + R34_LEVELS, head=None),
    "efficientnet_lite0": DecoderSpec(((256, 256, 128), (128, 128, 64), (64, 64, 32), (32, 32, 32)), (32, 32)),
}


class GlanceDecoder(nn.Module):
    """D_G: PPM on the deepest features; each block takes [context from a side branch, previous block]."""

    def __init__(self, channels: tuple[int, ...], spec: DecoderSpec, ppm: str = "all", top_dilation: int = 1):
        super().__init__()
        top, c_top = len(channels) - 1, channels[-1]
        self.top, self.ppm = top, ppm
        self.full_resolution = spec.head is None
        if ppm != "none":
            self.psp_module = PyramidPooling(c_top, c_top)
        side = ppm == "all"
        if side:
            for level, (_, _, out) in zip(range(top, 0, -1), spec.levels):
                self.add_module(f"psp{level}", side_branch(c_top, out, min(2 ** (top - level + 1), 2 ** 5)))
        cin = c_top * (2 if ppm != "none" else 1)
        for level, (mid1, mid2, out) in zip(range(top, 0, -1), spec.levels):
            up = not (self.full_resolution and level == 1)
            dilation = top_dilation if level == top else 1
            self.add_module(f"decoder{level}_g", decoder_block(cin, mid1, mid2, out, up=up, dilation=dilation))
            cin = out * (2 if side else 1)
        self.out_channels = spec.levels[-1][2] * (2 if side and not self.full_resolution else 1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        deepest = features[self.top]
        context = self.psp_module(deepest) if self.ppm != "none" else None
        x = deepest if context is None else torch.cat([context, deepest], 1)
        for level in range(self.top, 0, -1):
            x = getattr(self, f"decoder{level}_g")(x)
            if self.ppm == "all" and not (self.full_resolution and level == 1):
                x = torch.cat([getattr(self, f"psp{level}")(context), x], 1)
        return x


class FocusDecoder(nn.Module):
    """D_F: bridge block on the deepest features; each block takes [previous block, encoder skip] (U-Net)."""

    def __init__(self, channels: tuple[int, ...], spec: DecoderSpec, bridge: bool = True, top_dilation: int = 1):
        super().__init__()
        top, c_top = len(channels) - 1, channels[-1]
        self.top, self.bridge = top, bridge
        self.full_resolution = spec.head is None
        if bridge:
            self.bridge_block = bridge_block(c_top, c_top, c_top)
        cin = c_top * (2 if bridge else 1)
        for level, (mid1, mid2, out) in zip(range(top, 0, -1), spec.levels):
            up = not (self.full_resolution and level == 1)
            dilation = top_dilation if level == top else 1
            self.add_module(f"decoder{level}_f", decoder_block(cin, mid1, mid2, out, up=up, dilation=dilation))
            cin = out + channels[level - 1]
        self.out_channels = spec.levels[-1][2] + (0 if self.full_resolution else channels[0])

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        deepest = features[self.top]
        x = torch.cat([self.bridge_block(deepest), deepest], 1) if self.bridge else deepest
        for level in range(self.top, 0, -1):
            x = getattr(self, f"decoder{level}_f")(x)
            if not (self.full_resolution and level == 1):
                x = torch.cat([x, features[level - 1]], 1)
        return x


def head_block(cin: int, cout: int, spec: DecoderSpec) -> nn.Sequential:
    if spec.head is None:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1))
    return decoder_block(cin, spec.head[0], spec.head[1], cout, last_bn_relu=False, up=True)


def collaborative_merge(rosta: str, glance_logits: torch.Tensor, focus: torch.Tensor) -> torch.Tensor:
    """Alpha from the glance class map (argmax) and the focus alpha by RoSTa ``rosta``'s rule (merge.py)."""
    classes = glance_logits.argmax(1, keepdim=True).to(focus.dtype)
    return MERGE_RULES[rosta](classes / 2 if rosta == "tt" else classes, focus)


class RoSTaHeads(nn.Module):
    """``decoder0_g`` (glance logits) and ``decoder0_f`` (focus) for one RoSTa, or three pairs plus RIM."""

    def __init__(self, rosta: str, glance_channels: int, focus_channels: int, spec: DecoderSpec):
        super().__init__()
        self.rosta = rosta
        forms = ("tt", "ft", "bt") if rosta == "rim" else (rosta,)
        self.suffixes = {form: f"_{form}" if rosta == "rim" else "" for form in forms}
        for form, suffix in self.suffixes.items():
            self.add_module(f"decoder0_g{suffix}", head_block(glance_channels, GLANCE_CLASSES[form], spec))
        for form, suffix in self.suffixes.items():
            self.add_module(f"decoder0_f{suffix}", head_block(focus_channels, 1, spec))
        if rosta == "rim":
            self.rim = rim_module()

    def forward(self, glance_features: torch.Tensor, focus_features: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for form, suffix in self.suffixes.items():
            logits = getattr(self, f"decoder0_g{suffix}")(glance_features)
            focus = torch.sigmoid(getattr(self, f"decoder0_f{suffix}")(focus_features))
            out[f"glance_logits{suffix}"] = logits
            out[f"glance{suffix}"] = logits.softmax(1)
            out[f"focus{suffix}"] = focus
            out[f"alpha{suffix}"] = collaborative_merge(form, logits, focus)
        if self.rosta == "rim":
            out["alpha"] = self.rim(torch.cat([out["alpha_tt"], out["alpha_ft"], out["alpha_bt"]], 1))
        return out


class GFM(nn.Module):
    """GFM(backbone, rosta): backbone in r34, r34_2b, d121, r101, efficientnet_lite0; rosta in tt, ft, bt, rim.

    ``forward(x)`` takes raw 0-255 RGB floats (B, 3, H, W), H and W multiples of 32, and returns a dict:
    ``glance_logits`` and ``glance`` (softmax class map), ``focus`` (sigmoid alpha), ``alpha`` (merged); for RIM
    the first four come per form with suffixes ``_tt``, ``_ft``, ``_bt`` and ``alpha`` is RIM's output.
    """

    def __init__(self, backbone: str = "r34", rosta: str = "tt", *, decoder6_dilation: int = 2,
                 single_decoder: bool = False, ppm: str = "all", bridge: bool = True):
        super().__init__()
        if backbone not in ENCODERS:
            raise UsageError(f"unknown GFM backbone {backbone!r}; choose one of: {', '.join(ENCODERS)}.")
        if rosta not in ROSTAS:
            raise UsageError(f"unknown RoSTa {rosta!r}; choose one of: {', '.join(ROSTAS)}.")
        if ppm not in ("all", "top", "none"):
            raise UsageError(f"ppm must be 'all', 'top' or 'none', not {ppm!r}.")
        if decoder6_dilation not in (1, 2):
            raise UsageError(f"decoder6_dilation must be 1 or 2, not {decoder6_dilation!r}.")
        self.backbone, self.rosta, self.single_decoder = backbone, rosta, single_decoder
        self.options = dict(decoder6_dilation=decoder6_dilation, single_decoder=single_decoder, ppm=ppm,
                            bridge=bridge)
        spec = DECODERS[backbone]
        top_dilation = decoder6_dilation if backbone == "r34_2b" else 1
        self.encoder: Encoder = build_encoder(backbone)
        self.glance = GlanceDecoder(self.encoder.channels, spec, ppm, top_dilation)
        if not single_decoder:
            self.focus = FocusDecoder(self.encoder.channels, spec, bridge, top_dilation)
        focus_channels = self.glance.out_channels if single_decoder else self.focus.out_channels
        self.heads = RoSTaHeads(rosta, self.glance.out_channels, focus_channels, spec)
        self.register_state_dict_post_hook(_drop_part_names)
        self.register_load_state_dict_pre_hook(_restore_part_names)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encoder(x)
        glance_features = self.glance(features)
        focus_features = glance_features if self.single_decoder else self.focus(features)
        return self.heads(glance_features, focus_features)

    def load_imagenet(self, override: str | None = None) -> None:
        """Initialise the encoder with the backbone's ImageNet weights (never done at construction)."""
        self.encoder.load_imagenet(override)

    def part_of(self) -> dict[str, str]:
        """Official top-level name (``resnet``, ``psp_module``, ``decoder0_g``, ...) -> the part holding it."""
        return {child: part for part in PARTS if hasattr(self, part)
                for child, _ in getattr(self, part).named_children()}


def _drop_part_names(module: GFM, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """state_dict post-hook: ``glance.psp_module.bottleneck.weight`` -> ``psp_module.bottleneck.weight``."""
    items = list(state_dict.items())
    state_dict.clear()
    for key, value in items:
        rest = key[len(prefix):]
        part, _, name = rest.partition(".")
        state_dict[prefix + name if key.startswith(prefix) and part in PARTS else key] = value


def _restore_part_names(module: GFM, state_dict: dict, prefix: str, *args) -> None:
    """load_state_dict pre-hook: the inverse of :func:`_drop_part_names` for keys of known top-level names."""
    owners = module.part_of()
    for key in [k for k in state_dict if k.startswith(prefix)]:
        top = key[len(prefix):].split(".", 1)[0]
        if top in owners:
            state_dict[f"{prefix}{owners[top]}.{key[len(prefix):]}"] = state_dict.pop(key)
