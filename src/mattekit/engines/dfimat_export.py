"""Export DFIMat's MRN to ONNX for one input size (the refiner alone; ISCN's prompt-dependent decoder is not
exported).

The graph takes ``image`` float32 (1, 3, H, W) raw 0-255 RGB and ``mask`` float32 (1, 1, H, W) in [0, 1], H and W
multiples of 32, and gives ``alpha`` (1, 1, H, W) after both PRM steps (inference widths). Uses PyTorch's
TorchScript-based exporter, as the GFM export does.

Example:
    >>> export_mrn_onnx("mrn.safetensors", "mrn.onnx", height=512, width=512)    # doctest: +SKIP
    PosixPath('mrn.onnx')
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from mattekit.engines import check_onnx_size
from mattekit.engines.dfimat_weights import read_dfimat
from mattekit.errors import MattekitError, UsageError
from mattekit.io import atomic_path


class MRNGraph(torch.nn.Module):
    def __init__(self, mrn):
        super().__init__()
        self.mrn = mrn

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.mrn(image, mask)["alpha"]


def export_mrn_onnx(weights: str | os.PathLike, output: str | os.PathLike, height: int = 512, width: int = 512,
                    opset: int = 17) -> Path:
    """Write the ONNX graph of the MRN in ``weights`` for (``height``, ``width``) inputs to ``output`` atomically."""
    check_onnx_size(height, width)
    mrn = read_dfimat(weights)[1]
    if mrn is None:
        raise UsageError(f"{weights} holds no MRN to export (only MRN, the refiner, exports to ONNX).")
    output = Path(output)
    inputs = (torch.zeros(1, 3, height, width), torch.zeros(1, 1, height, width))
    try:
        # with gradients on, attention runs as separate operators (its fused inference kernel has no ONNX form)
        with atomic_path(output) as tmp, warnings.catch_warnings(), torch.enable_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(MRNGraph(mrn.eval()), inputs, str(tmp), dynamo=False, input_names=["image", "mask"],
                              output_names=["alpha"], opset_version=opset)
    except MattekitError:
        raise
    except Exception as e:  # the exporter's own failures, e.g. a missing onnx package
        raise UsageError(f"could not export {weights} to ONNX ({type(e).__name__}: {e}).") from None
    return output
