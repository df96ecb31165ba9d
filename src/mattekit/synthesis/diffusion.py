"""A Stable Diffusion model read from a local folder, its sampler, and the features DFIMat's interpreter reads.

DFIMat (Jiao, Zeng, Gao and Sang, "DFIMat: Decoupled Flexible Interactive Matting in Multi-Person Scenarios",
ACCV 2024, arXiv 2410.09788, §4 and Fig. 4) interprets mattes from the denoising U-Net of Stable Diffusion
(Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models", CVPR 2022): its multi-scale
latent features ``F`` and its text-to-image cross-attention maps ``M``, concatenated as ``F̂ = Concat[F, M]``.

- ``load_model(folder)`` reads a folder in the diffusers Stable Diffusion layout (``unet/``, ``vae/``,
  ``text_encoder/``, ``tokenizer/``, ``scheduler/``) from disk only; nothing is fetched from a hub.
- ``generate(model, caption, ...)`` samples an image (DDIM, classifier-free guidance) and returns its latent.
- ``features(model, latent, caption, timestep, generator)`` noises a latent to ``timestep``, passes it through the
  U-Net once and returns ``F̂``: per decoder scale (coarse to fine), the U-Net decoder blocks' features at that
  scale, concatenated with the cross-attention maps of every text token (one channel per token position),
  averaged over heads and over all cross-attention layers, each layer's maps resized to the scale.

The same one-pass extraction serves both phases of Fig. 4: a real image (VAE-encoded) with its caption for
training, and a generated image's final latent with its prompt for generation, so the interpreter always reads
features of one distribution (the paper does not say at which step the generation features are taken).

Example:
    >>> model, caption = load_model("models/stable-diffusion-v1-5"), "two people on a beach"   # doctest: +SKIP
    >>> latent, image = generate(model, caption, steps=30, size=768, seed=0)  # doctest: +SKIP
    >>> levels = features(model, latent, caption, 100, torch.Generator().manual_seed(0))  # doctest: +SKIP
    >>> [tuple(f.shape) for f in levels]                                      # doctest: +SKIP
    [(1, 1357, 12, 12), (1, 1357, 24, 24), (1, 717, 48, 48), (1, 397, 96, 96)]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mattekit.errors import InputError, UsageError
from mattekit.extras import require

PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


def import_diffusers():
    """diffusers and transformers, or a UsageError naming the extra that installs them."""
    return tuple(require("synth", "diffusers", "transformers", feature="diffusion synthesis"))


@dataclass
class DiffusionModel:
    """The parts of a Stable Diffusion model, in evaluation mode on ``device``."""

    unet: torch.nn.Module
    vae: torch.nn.Module
    text_encoder: torch.nn.Module
    tokenizer: object
    scheduler: object
    device: torch.device

    @property
    def vae_factor(self) -> int:
        """Image pixels per latent pixel (8 for Stable Diffusion)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def granularity(self) -> int:
        """Image sizes must be multiples of this: the VAE factor times the U-Net's downsampling."""
        return self.vae_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)

    @property
    def tokens(self) -> int:
        """Text positions, hence attention-map channels (77 for Stable Diffusion)."""
        return int(self.tokenizer.model_max_length)

    def channels(self) -> list[int]:
        """Channels of each ``features`` level, coarse to fine (decoder channels + one per token)."""
        return [c + self.tokens for c in decoder_channels(self.unet)]


def decoder_channels(unet) -> list[int]:
    """Channels of the U-Net decoder features per scale, coarse to fine (blocks at one scale are concatenated)."""
    widths = list(reversed(unet.config.block_out_channels))
    out: list[int] = []
    for i, block in enumerate(unet.up_blocks):
        if i > 0 and unet.up_blocks[i - 1].upsamplers is None:  # same scale as the block before: concatenated
            out[-1] += widths[i]
        else:
            out.append(widths[i])
    return out


def check_folder(folder: str | Path) -> Path:
    """``folder`` when it holds the parts of a Stable Diffusion model, else an InputError naming what it lacks."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--model {folder} is not a folder; give the local folder of a Stable Diffusion model.")
    missing = [p for p in PARTS if not (folder / p).is_dir()]
    if missing:
        raise InputError(f"{folder} is not a Stable Diffusion model folder: it lacks {'/, '.join(missing)}/.")
    return folder


def load_model(folder: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None):
    """The Stable-Diffusion-layout model in ``folder`` (local files only), in ``dtype`` (default: float16 on CUDA,
    float32 elsewhere); InputError when a part is missing."""
    diffusers, transformers = import_diffusers()
    device = torch.device(device)
    dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
    folder = check_folder(folder)
    local = {"local_files_only": True}
    # without accelerate, diffusers initialises the weights before loading them (slower), and says so
    quick = {"low_cpu_mem_usage": diffusers.utils.is_accelerate_available()}
    try:
        unet = diffusers.UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=dtype, **local, **quick)
        vae = diffusers.AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=dtype, **local, **quick)
        text = transformers.CLIPTextModel.from_pretrained(folder / "text_encoder", torch_dtype=dtype, **local)
        tokenizer = transformers.CLIPTokenizer.from_pretrained(folder / "tokenizer", **local)
        scheduler = diffusers.DDIMScheduler.from_pretrained(folder / "scheduler", **local)
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{folder} holds a Stable Diffusion part that cannot be read ({e}).") from None
    for part in (unet, vae, text):
        part.to(device).eval().requires_grad_(False)
    return DiffusionModel(unet, vae, text, tokenizer, scheduler, device)


def embed(model: DiffusionModel, captions: list[str]) -> torch.Tensor:
    """CLIP text embeddings (B, tokens, width) of ``captions``, padded to the tokenizer's length."""
    ids = model.tokenizer(captions, padding="max_length", max_length=model.tokens, truncation=True,
                          return_tensors="pt").input_ids
    return model.text_encoder(ids.to(model.device))[0]


class CrossAttentionRecorder:
    """An attention processor that computes attention as diffusers' default does and, in cross-attention layers,
    adds the head-averaged attention probabilities of every text token to ``self.maps[(h, w)]`` (B, tokens, h, w).

    ``shape`` must be set to the latent's (height, width) before a forward pass; a layer's map size follows from
    its number of positions.
    """

    def __init__(self, plain):
        self.plain, self.shape = plain, None
        self.maps: dict[tuple[int, int], torch.Tensor] = {}
        self.counts: dict[tuple[int, int], int] = {}
        self.recording = False

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        if self.recording and encoder_hidden_states is not None:
            self.record(attn, hidden_states, encoder_hidden_states)
        return self.plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb, **kwargs)

    def record(self, attn, hidden, context) -> None:
        if attn.group_norm is not None:
            hidden = attn.group_norm(hidden.transpose(1, 2)).transpose(1, 2)
        if attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        query, key = attn.head_to_batch_dim(attn.to_q(hidden)), attn.head_to_batch_dim(attn.to_k(context))
        probs = attn.get_attention_scores(query, key)  # (B*heads, positions, tokens)
        batch, positions = hidden.shape[0], hidden.shape[1]
        probs = probs.view(batch, -1, positions, probs.shape[-1]).mean(1)
        factor = round((self.shape[0] * self.shape[1] / positions) ** 0.5)
        h, w = self.shape[0] // factor, self.shape[1] // factor
        maps = probs.transpose(1, 2).reshape(batch, -1, h, w).float()
        self.maps[(h, w)] = self.maps.get((h, w), 0) + maps
        self.counts[(h, w)] = self.counts.get((h, w), 0) + 1

    def reset(self) -> None:
        self.maps, self.counts = {}, {}

    def mean_at(self, size: tuple[int, int]) -> torch.Tensor:
        """The maps of all recorded layers resized to ``size`` and averaged (each layer weighs the same)."""
        total = sum(F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in self.maps.values())
        return total / sum(self.counts.values())


class FeatureTap:
    """Forward hooks on the U-Net decoder: each up block's features before its upsampler (or its output)."""

    def __init__(self, unet):
        self.found: list[torch.Tensor] = []
        self.recording = False
        for block in unet.up_blocks:
            if block.upsamplers is not None:
                block.upsamplers[0].register_forward_pre_hook(lambda module, args: self.keep(args[0]))
            else:
                block.register_forward_hook(lambda module, args, out: self.keep(out))

    def keep(self, tensor: torch.Tensor) -> None:
        if self.recording:
            self.found.append(tensor)

    def levels(self) -> list[torch.Tensor]:
        """The recorded features grouped by scale, coarse to fine, blocks of one scale concatenated."""
        groups: list[list[torch.Tensor]] = []
        for f in self.found:
            if groups and groups[-1][0].shape[-2:] == f.shape[-2:]:
                groups[-1].append(f)
            else:
                groups.append([f])
        return [torch.cat(g, 1).float() for g in groups]


def tapped(model: DiffusionModel) -> tuple[CrossAttentionRecorder, FeatureTap]:
    """The recorder and tap installed on ``model.unet`` (installed once, on first use)."""
    unet = model.unet
    if not hasattr(unet, "_mattekit_taps"):
        diffusers, _ = import_diffusers()
        recorder = CrossAttentionRecorder(diffusers.models.attention_processor.AttnProcessor2_0())
        unet.set_attn_processor(recorder)
        unet._mattekit_taps = (recorder, FeatureTap(unet))
    return unet._mattekit_taps


@torch.no_grad()
def encode(model: DiffusionModel, image: np.ndarray) -> torch.Tensor:
    """The latent (1, 4, H/8, W/8) of a uint8 RGB image whose sides are multiples of ``model.granularity``."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(model.device, model.vae.dtype)
    return model.vae.encode(x).latent_dist.mean * model.vae.config.scaling_factor


@torch.no_grad()
def decode(model: DiffusionModel, latent: torch.Tensor) -> np.ndarray:
    """The uint8 RGB image of a latent."""
    x = model.vae.decode(latent / model.vae.config.scaling_factor).sample[0]
    return x.float().add(1).mul(127.5).round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()


def check_size(model: DiffusionModel, height: int, width: int) -> None:
    g = model.granularity
    if height % g or width % g:
        raise UsageError(f"image sizes must be multiples of {g} for this model, not {width}x{height}.")


@torch.no_grad()
def generate(model: DiffusionModel, caption: str, steps: int = 30, size: int = 768, seed: int = 0,
             guidance: float = 7.5) -> tuple[torch.Tensor, np.ndarray]:
    """Sample a ``size``x``size`` image of ``caption`` with ``steps`` DDIM steps; (final latent, uint8 RGB image)."""
    check_size(model, size, size)
    generator = torch.Generator("cpu").manual_seed(seed)
    side = size // model.vae_factor
    latent = torch.randn((1, model.unet.config.in_channels, side, side), generator=generator)
    latent = latent.to(model.device, model.unet.dtype) * model.scheduler.init_noise_sigma
    context = embed(model, ["", caption])
    model.scheduler.set_timesteps(steps)
    for t in model.scheduler.timesteps:
        both = model.scheduler.scale_model_input(torch.cat([latent, latent]), t)
        uncond, cond = model.unet(both, t, encoder_hidden_states=context).sample.chunk(2)
        latent = model.scheduler.step(uncond + guidance * (cond - uncond), t, latent).prev_sample
    return latent, decode(model, latent)


@torch.no_grad()
def features(model: DiffusionModel, latent: torch.Tensor, caption: str, timestep: int,
             generator: torch.Generator) -> list[torch.Tensor]:
    """``F̂`` of ``latent`` (1, 4, h, w) with ``caption``: per decoder scale, coarse to fine, a float32 tensor
    (1, decoder channels + tokens, h_s, w_s) from one U-Net pass at ``latent`` noised to ``timestep``."""
    recorder, tap = tapped(model)
    recorder.reset()
    recorder.shape = tuple(latent.shape[-2:])
    noise = torch.randn(latent.shape, generator=generator).to(latent)
    t = torch.tensor([int(timestep)], device=latent.device)
    recorder.recording = tap.recording = True
    try:
        model.unet(model.scheduler.add_noise(latent, noise, t), t, encoder_hidden_states=embed(model, [caption]))
        levels = tap.levels()
    finally:
        recorder.recording = tap.recording = False
        tap.found.clear()
    return [torch.cat([f, recorder.mean_at(tuple(f.shape[-2:]))], 1) for f in levels]
