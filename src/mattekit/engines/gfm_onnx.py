"""GFM passes through ONNX Runtime on CPU: one exported graph per network input size, cached on disk.

A GFM graph serves only the input size it was traced for (``mattekit.engines.gfm_export``), so the first pass at
a new size exports the model in memory to ``<mattekit cache>/gfm-onnx/`` (``$MATTEKIT_CACHE`` or the user cache
folder), under a name made of a SHA-256 of the model's weights and structure, the size, the outputs, the opset and
the PyTorch version; later passes, and later processes, reuse it. One ONNX Runtime session per size is kept in
memory (CPUExecutionProvider, all graph optimisations, as many threads as PyTorch uses).

Example:
    >>> passes = OnnxPasses(model)                                   # doctest: +SKIP
    >>> passes(np.zeros((1, 3, 256, 256), np.float32))["alpha"].shape  # doctest: +SKIP
    (1, 1, 256, 256)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from mattekit.engines.gfm_export import output_names, write_graph
from mattekit.errors import UsageError
from mattekit.io import atomic_path
from mattekit.weights import cache_dir

RUNTIMES = ("auto", "torch", "onnx")
OPSET = 17


def pick_runtime(runtime: str, device: torch.device, dtype: torch.dtype | None) -> str:
    """``torch`` or ``onnx`` for the gfm engine's ``runtime`` option.

    ``auto`` is ``torch``: ONNX Runtime's pass is faster on CPU, but exporting a size and building its session
    costs far more than the pass saves unless many images share one size (docs/benchmarks.md, GFM latency).

    >>> pick_runtime("auto", torch.device("cpu"), None)
    'torch'
    """
    if runtime not in RUNTIMES:
        raise UsageError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}.")
    if runtime == "onnx" and (device.type != "cpu" or dtype is not None):
        raise UsageError("runtime 'onnx' runs on CPU in fp32; pass device=cpu and precision=fp32 or auto.")
    return "torch" if runtime == "auto" else runtime


def model_digest(model: torch.nn.Module) -> str:
    """SHA-256 (hex, 16 digits) of the model's structure (its repr) and its parameters' and buffers' values."""
    digest = hashlib.sha256(repr(model).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class OnnxPasses:
    """Runs one GFM through ONNX Runtime: ``passes(x)`` with x float32 (1, 3, H, W) gives {output name: array}."""

    def __init__(self, model: torch.nn.Module, folder: str | Path | None = None):
        self.model, self.names = model, output_names(model)
        self.folder = Path(folder) if folder is not None else cache_dir() / "gfm-onnx"
        self.sessions: dict[tuple[int, int], object] = {}
        self.digest: str | None = None  # computed on first export: hashing the weights takes a moment

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        size = tuple(x.shape[2:])
        if size not in self.sessions:
            self.sessions[size] = self.session(self.graph(size))
        return dict(zip(self.names, self.sessions[size].run(None, {"image": x})))

    def graph(self, size: tuple[int, int]) -> Path:
        """The cached graph for ``size``, exported first if absent."""
        self.digest = self.digest or model_digest(self.model)
        height, width = size
        path = self.folder / (f"gfm-{self.digest}-{height}x{width}-{'+'.join(self.names)}-opset{OPSET}"
                              f"-torch{torch.__version__.split('+')[0]}.onnx")
        if not path.exists():
            with atomic_path(path) as tmp:
                write_graph(self.model, str(tmp), height, width, self.names, OPSET)
        return path

    @staticmethod
    def session(path: Path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
