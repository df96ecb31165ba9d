"""ONNX export of GFM (`mattekit export-onnx`): ONNX Runtime reproduces PyTorch; bad sizes are refused."""

import numpy as np
import pytest
import torch

from mattekit.cli import main
from mattekit.engines.gfm_export import export_onnx
from mattekit.errors import UsageError
from mattekit.models.gfm import GFM

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx", reason="torch.onnx.export needs the onnx package")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    model = GFM("efficientnet_lite0", "tt").eval()
    path = tmp_path_factory.mktemp("w") / "lite_tt.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_onnx_runtime_matches_pytorch(weights, tmp_path):
    model, path = weights
    # 96x64: the deepest features are 3x2, so the 5x5 pyramid pooling bins overlap (the awkward case)
    assert main(["export-onnx", str(path), "-o", str(tmp_path / "gfm.onnx"), "--size", "96", "64", "--maps"]) == 0
    x = torch.rand(1, 3, 96, 64) * 255
    with torch.no_grad():
        expected = model(x)
    session = ort.InferenceSession(str(tmp_path / "gfm.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"image": x.numpy()})))
    assert names == ["alpha", "glance", "focus"]
    for name in names:
        assert np.abs(got[name] - expected[name].numpy()).max() < 1e-4, name
    assert not list(tmp_path.glob(".gfm.onnx*"))  # no temporary file left


def test_sizes_not_multiple_of_32_are_refused_before_anything_is_written(weights, tmp_path, capsys):
    _, path = weights
    assert main(["export-onnx", str(path), "-o", str(tmp_path / "n.onnx"), "--size", "50", "64"]) == 2
    assert "multiples of 32, not 50x64" in capsys.readouterr().err
    assert not (tmp_path / "n.onnx").exists()
    with pytest.raises(UsageError):
        export_onnx(path, tmp_path / "x.onnx", height=0, width=64)
