"""Export a GFM checkpoint to ONNX for one input size (ONNX Runtime and other runtimes can then run it).

The graph takes ``image``: float32 (1, 3, H, W), raw 0-255 RGB, H and W multiples of 32, and gives ``alpha``
(1, 1, H, W), the merged alpha (RIM's output for RIM checkpoints); with ``with_maps`` also ``glance`` (class
probabilities) and ``focus`` (TT/FT/BT checkpoints). The padding of EfficientNet's TensorFlow-style convolutions
and the pyramid pooling bins depend on the input size, so a graph serves the size it was exported for: export
again for another size. Uses PyTorch's TorchScript-based exporter (the newer one fails on this model in torch 2.13).

Example:
    >>> export_onnx("gfm_r34_tt.pth", "gfm.onnx", height=512, width=512)   # doctest: +SKIP
    PosixPath('gfm.onnx')
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from mattekit.engines import check_onnx_size
from mattekit.engines.gfm_weights import build_from_weights
from mattekit.errors import MattekitError, UsageError
from mattekit.io import atomic_path


class AlphaGraph(torch.nn.Module):
    """GFM with tensor outputs in a fixed order (ONNX graphs have named positional outputs)."""

    def __init__(self, model, names: tuple[str, ...]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, image: torch.Tensor):
        out = self.model(image)
        return tuple(out[name] for name in self.names)


def write_graph(model, target, height: int, width: int, names: tuple[str, ...], opset: int = 17) -> None:
    """Trace ``model`` (a GFM in eval mode) for (``height``, ``width``) inputs into ``target`` (a path or a
    binary file object); the graph's outputs are ``names``, in that order."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(AlphaGraph(model, names), (torch.zeros(1, 3, height, width),), target,
                          dynamo=False, input_names=["image"], output_names=list(names), opset_version=opset)


def output_names(model, with_maps: bool = True) -> tuple[str, ...]:
    """The graph outputs of ``model``: ``alpha``, and with ``with_maps`` ``glance`` and ``focus`` (not for RIM)."""
    return ("alpha", "glance", "focus") if with_maps and model.rosta != "rim" else ("alpha",)


def export_onnx(weights: str | os.PathLike, output: str | os.PathLike, height: int = 512, width: int = 512,
                backbone: str | None = None, rosta: str | None = None, with_maps: bool = False,
                opset: int = 17) -> Path:
    """Write the ONNX graph of the GFM in ``weights`` for (``height``, ``width``) inputs to ``output`` atomically."""
    check_onnx_size(height, width)
    model = build_from_weights(weights, backbone, rosta)
    output = Path(output)
    try:
        with atomic_path(output) as tmp:
            write_graph(model, str(tmp), height, width, output_names(model, with_maps), opset)
    except MattekitError:
        raise
    except Exception as e:  # the exporter's own failures, e.g. a missing onnx package
        raise UsageError(f"could not export {weights} to ONNX ({type(e).__name__}: {e}).") from None
    return output
