"""Model complexity: parameters, multiply-accumulates of convolutions and linear layers, and latency.

MACs are counted with forward hooks while the model runs once on an input of the given size (batch 1):

- convolution (``Conv1d/2d/3d``, grouped, strided, dilated): ``output elements × in_channels/groups × kernel``;
- transposed convolution: ``input elements × out_channels/groups × kernel`` (each input value meets the kernel once);
- ``Linear``: ``output elements × in_features`` (any number of leading dimensions);
- ``MultiheadAttention``: its four projections (queries and output: ``query tokens × E × E`` each; keys and values:
  ``key tokens × E × E`` each), which torch computes as functions inside the module.

Bias additions, normalisation, activations, pooling, resizing and attention matrix products are not counted (the
usual convention of matting and segmentation papers); a module called twice is counted twice. Layers called as
functions (``F.conv2d``) rather than as modules are invisible to hooks.

Models are named by a spec: a name registered in ``MODELS`` followed by its arguments (``gfm:r34:tt`` calls
``MODELS["gfm"]`` with ``"r34", "tt"``), or any import path ``package.module:callable[:arg...]`` that builds an
``nn.Module``. Arguments that read as numbers are passed as numbers, the others as strings.

Example:
    >>> import torch.nn as nn
    >>> report = measure(nn.Conv2d(3, 8, 3, padding=1), input_size=(16, 16), runs=0)
    >>> report.parameters, report.macs
    (224, 55296)
"""

from __future__ import annotations

import importlib
import math
import statistics
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from mattekit.errors import UsageError

# name -> "module:callable"; the callable takes the spec's remaining parts as strings and returns an nn.Module.
MODELS: dict[str, str] = {
    "gfm": "mattekit.models.gfm:GFM",  # gfm:BACKBONE:ROSTA, e.g. gfm:r34:tt, gfm:d121:rim
    "dfimat": "mattekit.models.dfimat.measure:DFIMatWhole",  # dfimat:PRESET (dfimat, dfimat-s, tiny)
    "dfimat-iscn": "mattekit.models.dfimat.measure:ISCNRound",  # dfimat-iscn:PRESET[:cached] (a later round)
    "dfimat-mrn": "mattekit.models.dfimat.measure:MRNWithMask",  # dfimat-mrn:PRESET
}

CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


@dataclass
class Complexity:
    """What ``measure`` found; ``latency_ms`` is the median of ``runs`` timed forward passes (None if 0 runs)."""

    parameters: int
    trainable_parameters: int
    macs: int
    macs_by_layer_type: dict[str, int]
    input_shape: tuple[int, ...]
    device: str
    runs: int
    latency_ms: float | None = None
    latencies_ms: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """A few aligned lines for people: parameters in millions, MACs in billions, latency in ms."""
        kinds = ", ".join(f"{k} {v / 1e9:.3f} G" for k, v in self.macs_by_layer_type.items())
        lines = [
            f"input        {'x'.join(map(str, self.input_shape))}",
            f"parameters   {self.parameters / 1e6:.3f} M ({self.parameters:,})",
            f"MACs         {self.macs / 1e9:.3f} G ({self.macs:,}){f'  [{kinds}]' if kinds else ''}",
        ]
        if self.latency_ms is not None:
            lines.append(f"latency      {self.latency_ms:.2f} ms (median of {self.runs} runs on {self.device})")
        return "\n".join(lines)


def layer_macs(module: nn.Module, inputs: tuple, output) -> int:
    """Multiply-accumulates of one call of a convolution, transposed convolution, linear or attention ``module``."""
    if isinstance(module, nn.MultiheadAttention):
        query, key = inputs[0], inputs[1]
        tokens = query.numel() // query.shape[-1] * 2 + key.numel() // key.shape[-1] * 2
        return tokens * module.embed_dim * module.embed_dim
    if isinstance(module, TRANSPOSED):
        return inputs[0].numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, CONVOLUTIONS):
        return output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def count_macs(model: nn.Module, *inputs: torch.Tensor) -> dict[str, int]:
    """Run ``model(*inputs)`` once without gradients; MACs per layer type (``Conv2d``, ``Linear``, ...)."""
    totals: dict[str, int] = {}

    def hook(module, args, output):
        name = type(module).__name__
        totals[name] = totals.get(name, 0) + layer_macs(module, args, output)

    kinds = CONVOLUTIONS + TRANSPOSED + (nn.Linear, nn.MultiheadAttention)
    counted = [m for m in model.modules() if isinstance(m, kinds)]
    handles = [m.register_forward_hook(hook) for m in counted]
    try:
        with torch.inference_mode():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return totals


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:1`` or ``mps`` as a torch device that exists here, else UsageError."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device {name!r} is not a device name (cpu, cuda, cuda:1, mps).") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {name} asks for CUDA, but no CUDA GPU is available to torch here.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {name} asks for Apple MPS, which is not available here.")
    return device


def time_forward_ms(model: nn.Module, inputs: tuple, device: torch.device, runs: int, warmup: int) -> list[float]:
    """Wall-clock milliseconds of ``runs`` forward passes after ``warmup`` untimed ones (CUDA synchronised)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            sync()
            start = time.perf_counter()
            model(*inputs)
            sync()
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000.0)
    return times


def measure(
    model: nn.Module,
    input_size: tuple[int, int] = (512, 512),
    channels: int = 3,
    inputs: tuple[torch.Tensor, ...] | None = None,
    runs: int = 10,
    warmup: int = 2,
    device: str = "cpu",
) -> Complexity:
    """Parameters, MACs at ``input_size`` (H, W; batch 1, ``channels`` channels) and median latency on ``device``.

    ``inputs`` replaces the random image for models that take several tensors. ``runs=0`` skips timing.
    """
    if runs < 0 or warmup < 0:
        raise UsageError(f"the number of runs ({runs}) and warm-up runs ({warmup}) must not be negative.")
    if inputs is None:
        if len(input_size) != 2 or min(input_size) < 1 or channels < 1:
            raise UsageError(f"--size must be two positive numbers H W, not {' '.join(map(str, input_size))}.")
        inputs = (torch.rand(1, channels, *input_size),)
    torch_device = resolve_device(device)
    model = model.to(torch_device).eval()
    inputs = tuple(x.to(torch_device) for x in inputs)
    by_type = count_macs(model, *inputs)
    latencies = time_forward_ms(model, inputs, torch_device, runs, warmup) if runs else []
    return Complexity(
        parameters=sum(p.numel() for p in model.parameters()),
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        macs=sum(by_type.values()),
        macs_by_layer_type=by_type,
        input_shape=tuple(inputs[0].shape),
        device=str(torch_device),
        runs=runs,
        latency_ms=statistics.median(latencies) if latencies else None,
        latencies_ms=latencies,
    )


def _number_or_text(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def build_model(spec: str) -> nn.Module:
    """The ``nn.Module`` named by ``spec``: ``NAME[:arg...]`` from ``MODELS`` or ``module:callable[:arg...]``.

    >>> build_model("torch.nn:Identity")
    Identity()
    """
    head, _, rest = spec.partition(":")
    args = [_number_or_text(a) for a in rest.split(":")] if rest else []
    if head in MODELS:
        target = MODELS[head]
    elif args:
        target, args = f"{head}:{rest.split(':')[0]}", args[1:]
    else:
        known = ", ".join(sorted(MODELS)) or "none registered yet"
        raise UsageError(f"--model {spec!r} is neither a registered model ({known}) nor module:callable.")
    module_name, attr = target.split(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except ImportError as e:
        raise UsageError(f"--model {spec!r}: module {module_name} cannot be imported ({e}).") from None
    except AttributeError:
        raise UsageError(f"--model {spec!r}: module {module_name} has no {attr}.") from None
    try:
        model = factory(*args)
    except (TypeError, ValueError, KeyError) as e:
        raise UsageError(f"--model {spec!r}: {attr}({', '.join(map(repr, args))}) failed: {e}.") from None
    if not isinstance(model, nn.Module):
        raise UsageError(f"--model {spec!r} built a {type(model).__name__}, not a torch nn.Module.")
    return model
