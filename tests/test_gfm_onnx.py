"""The gfm engine's ONNX Runtime path (runtime="onnx") gives PyTorch's alphas, and caches one graph per size."""

import copy

import numpy as np
import pytest
import torch

from mattekit.engines.gfm import GFMEngine
from mattekit.errors import UsageError
from mattekit.models.gfm import GFM

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx", reason="torch.onnx.export needs the onnx package")


def test_onnx_runtime_gives_pytorch_alphas_and_caches_a_graph_per_size(tmp_path, monkeypatch):
    monkeypatch.setenv("MATTEKIT_CACHE", str(tmp_path))
    torch.manual_seed(0)
    model = GFM("efficientnet_lite0", "tt").eval()
    image = np.random.default_rng(0).integers(0, 256, (192, 144, 3), dtype=np.uint8)
    # hybrid: glance at 1/3 (64x32: a 32-pixel side runs in PyTorch), focus at 1/2 (96x64: ONNX Runtime)
    options = dict(device="cpu", foreground=False)
    expected = GFMEngine.from_models([copy.deepcopy(model)], runtime="torch", **options).predict(image).alpha
    engine = GFMEngine.from_models([copy.deepcopy(model)], runtime="onnx", **options)
    got = engine.predict(image).alpha
    # stated tolerance: 1e-4 on alphas in [0, 1] (float32 sums in another order)
    assert np.abs(got - expected).max() < 1e-4
    graphs = sorted(p.name.split("-")[2] for p in (tmp_path / "gfm-onnx").glob("*.onnx"))
    assert graphs == ["96x64"]
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "gfm-onnx").iterdir()}
    again = GFMEngine.from_models([copy.deepcopy(model)], runtime="onnx", **options).predict(image).alpha
    assert np.array_equal(again, got)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "gfm-onnx").iterdir()} == stamps  # reused, not rewritten


def test_runtime_choices_and_their_errors():
    model = GFM("efficientnet_lite0", "tt").eval()
    assert GFMEngine.from_models([model], device="cpu").runtime == "torch"  # auto: see docs/benchmarks.md
    with pytest.raises(UsageError, match="^runtime must be one of auto, torch, onnx, not 'tensorrt'.$"):
        GFMEngine.from_models([model], device="cpu", runtime="tensorrt")
    with pytest.raises(UsageError, match="^runtime 'onnx' runs on CPU in fp32"):
        GFMEngine.from_models([model], device="cpu", precision="bf16", runtime="onnx")
