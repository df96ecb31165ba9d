"""The GFM engine: trimap-free matting with GFM checkpoints (official ``.pth`` or mattekit ``.safetensors``).

Test strategies (Li et al., "Bridging Composite and Real", IJCV 2022, arXiv:2010.16188, §5.5, and the
official code's ``core/test.py``, github.com/JizhiziLi/GFM), all device-agnostic:

- ``resize``: one pass at ``ratio`` (default 1/2); the merged alpha is resized back.
- ``hybrid`` (default for TT/FT/BT): the glance map from a pass at 1/``d1`` (default 3) and the focus alpha from a
  pass at 1/``d2`` (default 2, d1 >= d2), both resized to full resolution and merged there by the RoSTa's rule;
  for TT, every pixel the upsampled class map does not mark as surely 0 or 1 counts as transition.
- ``rim`` (default for RIM checkpoints): one pass at 1/3, RIM's output.

The network sees raw 0-255 RGB (the official weights' convention), resized with scikit-image's anti-aliased
bilinear ``resize`` as the official test code does, each side floored to a multiple of 32 and capped at
``max_size`` (1600). Several checkpoints make an EN-median ensemble (per-pixel median of their alphas). On a GPU
the network runs under autocast (bf16 where supported, else fp16); on CPU, denormal floats are flushed to zero
(``torch.set_flush_denormal``) and, with ``optimise``, freed memory is kept for reuse
(``mattekit.memory.keep_freed_memory``), both process-wide. A trimap, when given, is used as the glance:
its known pixels are kept and GFM's alpha fills its unknown ones. Foreground colours: pymatting's
``estimate_foreground_ml`` at a working size of at most ``foreground_pixels`` (``mattekit.matting.foreground``).
Memory stays bounded whatever the image's size or aspect ratio: the network input is at most ``max_size`` a side
and at least 32 (a 4000x2 strip or a 1x1 image runs at 32 pixels on its short side), and the full-resolution maps
are float32.

Example:
    >>> engine = GFMEngine("gfm_r34_tt.pth", strategy="hybrid")       # doctest: +SKIP
    >>> engine.predict(image).alpha.shape                              # doctest: +SKIP
    (1080, 1620)
"""

from __future__ import annotations

import inspect
import os
from contextlib import nullcontext
from typing import Sequence

import numpy as np
import torch
from skimage.transform import resize

from mattekit.engines.gfm_onnx import OnnxPasses, pick_runtime
from mattekit.engines.gfm_weights import build_from_weights
from mattekit.memory import keep_freed_memory
from mattekit.models.fuse import fold_batch_norm
from mattekit.models.gfm import GFM, ROSTAS
from mattekit.errors import InputError, UsageError, WeightsError
from mattekit.matte import Matte
from mattekit.matting.foreground import estimate_foreground
from mattekit.matting.merge import MERGE_RULES, merge_tt

STRATEGIES = ("resize", "hybrid", "rim")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MODEL_OPTIONS = tuple(p.name for p in inspect.signature(GFM).parameters.values() if p.kind is p.KEYWORD_ONLY)


def network_size(height: int, width: int, ratio: float, max_size: int = 1600) -> tuple[int, int]:
    """The network's input size: each side times ``ratio``, floored to a multiple of 32, in [32, max_size].

    >>> network_size(1080, 1620, 1 / 3)
    (352, 512)
    """
    def side(s: int) -> int:
        n = int(s * ratio)
        return max(32, min(max_size - max_size % 32, n - n % 32))
    return side(height), side(width)


def resize_map(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float HxW(xC) map with anti-aliasing when shrinking (skimage, as the official code)."""
    if values.shape[:2] == tuple(size):
        return values.astype(np.float32, copy=False)
    return resize(values, size, order=1, mode="reflect", preserve_range=True,
                  anti_aliasing=size[0] < values.shape[0] or size[1] < values.shape[1]).astype(np.float32)


def pick_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise UsageError(f"unknown device {device!r}; use cpu, cuda, cuda:N, mps or auto.") from None


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: full fp32)."""
    if precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}.")
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def weight_list(weights, rosta: str | None) -> list[tuple[str, str | None]]:
    """(path, rosta) pairs from a path, paths joined by commas, a list, or a {name: path} dict whose names may
    be RoSTa forms (``--weights ft=gfm_r34_ft.pth --weights bt=gfm_r34_bt.pth``)."""
    if isinstance(weights, dict):
        return [(path, name if name in ROSTAS else rosta) for name, path in weights.items()]
    if isinstance(weights, str):
        return [(path, rosta) for path in weights.split(",")]
    if isinstance(weights, os.PathLike):
        return [(weights, rosta)]
    return [(path, rosta) for path in weights]


class GFMEngine:
    """GFM matting. ``weights``: a checkpoint path, or several for EN-median (a list, paths joined by commas, or
    a dict name -> path where a name that is a RoSTa form sets that file's RoSTa).

    Options: ``backbone``/``rosta`` (recognised from the checkpoint when omitted), ``strategy`` (resize, hybrid,
    rim; default hybrid, or rim for RIM checkpoints), ``ratio`` (resize), ``d1``/``d2`` (hybrid), ``max_size``,
    ``device`` (auto, cpu, cuda, mps), ``precision`` (auto, fp32, bf16, fp16), ``runtime`` (auto = torch,
    torch, or onnx: ONNX Runtime on CPU, one graph per network input size, exported on first use and cached under
    ``$MATTEKIT_CACHE``, ``mattekit.engines.gfm_onnx``; sizes with a 32-pixel side run in PyTorch), ``foreground``
    (estimate colours),
    ``optimise`` (fold batch norm into the convolutions and use the channels-last layout: faster, same alphas;
    the models are changed in place, so pass False for a model that still trains; on CPU also keep freed memory
    for reuse, which spares the page faults of large tensors), and GFM construction options
    (``decoder6_dilation``, ...).
    """

    name = "gfm"
    foreground_pixels = 600_000  # working size of the colour estimation (mattekit.matting.foreground)

    def __init__(self, weights: str | os.PathLike | Sequence[str | os.PathLike] | None = None, *,
                 backbone: str | None = None, rosta: str | None = None, strategy: str | None = None,
                 ratio: float = 0.5, d1: float = 3, d2: float = 2, max_size: int = 1600, device: str | None = None,
                 precision: str = "auto", runtime: str = "auto", foreground: bool = True, optimise: bool = True,
                 **model_options):
        if weights is None or weights == "" or weights == []:
            raise WeightsError("the gfm engine needs a checkpoint: pass --weights FILE (an official gfm_*.pth "
                               "from the GFM authors, or a .safetensors written by `mattekit train`).")
        for key in model_options:
            if key not in MODEL_OPTIONS:
                raise UsageError(f"the gfm engine has no option {key!r}; GFM construction options: "
                                 f"{', '.join(MODEL_OPTIONS)}.")
        models = [build_from_weights(path, backbone, form, **model_options)
                  for path, form in weight_list(weights, rosta)]
        self.configure(models, strategy=strategy, ratio=ratio, d1=d1, d2=d2, max_size=max_size, device=device,
                       precision=precision, runtime=runtime, foreground=foreground, optimise=optimise)

    @classmethod
    def from_models(cls, models, **options) -> "GFMEngine":
        """An engine around GFM modules already in memory (e.g. during training), with the engine's options."""
        engine = cls.__new__(cls)
        engine.configure(list(models), **options)
        return engine

    def configure(self, models, strategy: str | None = None, ratio: float = 0.5, d1: float = 3, d2: float = 2,
                  max_size: int = 1600, device: str | None = None, precision: str = "auto", runtime: str = "auto",
                  foreground: bool = True, optimise: bool = True) -> None:
        self.device = pick_device(device) if not isinstance(device, torch.device) else device
        torch.set_flush_denormal(True)  # denormal floats slow CPU convolutions by orders of magnitude
        self.dtype = autocast_dtype(self.device, precision)
        self.runtime = pick_runtime(runtime, self.device, self.dtype)
        # batch norm folded into the convolutions and the channels-last layout, which oneDNN and cuDNN convolve
        # fastest: GFM-TT(r34) at 800x800 on CPU about 18% faster than eager (docs/benchmarks.md)
        fast = optimise and self.device.type in ("cpu", "cuda")
        if optimise and self.device.type == "cpu":
            keep_freed_memory()  # no page faults for large tensors: GFM-TT(r34) at 800x800 about 25% less time
        self.layout = torch.channels_last if fast else torch.contiguous_format
        self.models = [(fold_batch_norm(m.eval()) if optimise else m).to(self.device, memory_format=self.layout)
                       for m in models]
        self.onnx = {model: OnnxPasses(model) for model in self.models} if self.runtime == "onnx" else {}
        self.ratio, self.d1, self.d2, self.max_size = float(ratio), float(d1), float(d2), int(max_size)
        self.foreground = foreground
        is_rim = [m.rosta == "rim" for m in self.models]
        self.strategy = strategy or ("rim" if all(is_rim) else "hybrid")
        if self.strategy not in STRATEGIES:
            raise UsageError(f"unknown strategy {self.strategy!r}; choose one of: {', '.join(STRATEGIES)}.")
        if self.strategy == "rim" and not all(is_rim):
            raise UsageError("strategy 'rim' needs RIM checkpoints; use 'hybrid' or 'resize' for TT/FT/BT ones.")
        if self.strategy == "hybrid" and any(is_rim):
            raise UsageError("RIM checkpoints run with strategy 'rim' or 'resize', not 'hybrid'.")
        if self.strategy == "hybrid" and not (self.d1 >= self.d2 > 0):
            raise UsageError(f"hybrid needs d1 >= d2 > 0 (got d1={self.d1:g}, d2={self.d2:g}).")
        if not 0 < self.ratio <= 1:
            raise UsageError(f"ratio must be in (0, 1], not {self.ratio:g}.")

    def run(self, model, image: np.ndarray, ratio: float) -> dict[str, np.ndarray]:
        """One network pass on ``image`` (float 0-255 HxWx3) shrunk by ``ratio``: outputs as HxW(xC) numpy."""
        size = network_size(*image.shape[:2], ratio, self.max_size)
        x = torch.from_numpy(resize_map(image, size)).permute(2, 0, 1)[None]
        if self.onnx and min(size) > 32:  # a side of 32: ONNX Runtime fails on the 1-pixel pyramid pooling bins
            return {k: v[0].transpose(1, 2, 0) for k, v in self.onnx[model](x.contiguous().numpy()).items()}
        x = x.to(self.device)
        x = x.contiguous(memory_format=self.layout)
        cast = torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else nullcontext()
        with torch.inference_mode(), cast:
            out = model(x)
        return {k: v[0].float().permute(1, 2, 0).cpu().numpy() for k, v in out.items()}

    def alpha_of(self, model, image: np.ndarray) -> np.ndarray:
        """The alpha matte of one model by the engine's strategy, HxW float32 in [0, 1]."""
        full = image.shape[:2]
        if self.strategy in ("resize", "rim"):
            ratio = 1 / 3 if self.strategy == "rim" else self.ratio
            alpha = resize_map(self.run(model, image, ratio)["alpha"][..., 0], full)
            return np.clip(alpha, 0, 1)
        glance_pass = self.run(model, image, 1 / self.d1)
        focus_pass = glance_pass if self.d1 == self.d2 else self.run(model, image, 1 / self.d2)
        classes = glance_pass["glance"].argmax(-1).astype(np.float32)
        glance = resize_map(classes / 2 if model.rosta == "tt" else classes, full)
        focus = resize_map(focus_pass["focus"][..., 0], full)
        if model.rosta == "tt":
            glance = np.where(glance >= 1 - 1e-4, 1.0, np.where(glance <= 1e-4, 0.0, 0.5)).astype(np.float32)
        return np.clip(MERGE_RULES[model.rosta](glance, focus), 0, 1).astype(np.float32)

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> Matte:
        """Matte ``image`` (uint8 RGB HxWx3); ``trimap`` (uint8 0/128/255), if given, fixes the known pixels."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"the gfm engine needs a uint8 RGB HxWx3 image, got {image.dtype} {image.shape}.")
        rgb = image.astype(np.float32)
        alphas = [self.alpha_of(model, rgb) for model in self.models]
        alpha = alphas[0] if len(alphas) == 1 else np.median(np.stack(alphas), axis=0).astype(np.float32)
        if trimap is not None:
            glance = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, 0.5)).astype(np.float32)
            alpha = merge_tt(glance, alpha).astype(np.float32)
        return Matte(alpha=alpha, foreground=self.colours(image, alpha))

    def colours(self, image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        if not self.foreground:
            return image.astype(np.float32) / 255.0
        return estimate_foreground(image, alpha, self.foreground_pixels)
