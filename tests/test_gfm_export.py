"""ONNX export of GFM: ONNX Runtime reproduces PyTorch; the CLI verb; bad sizes."""

import numpy as np
import pytest
import torch

from mattekit.cli import main
from mattekit.engines.gfm_export import export_onnx
from mattekit.errors import UsageError
from mattekit.models.gfm import GFM

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx", reason="torch.onnx.export needs the onnx package")


@pytest.mark.parametrize("rosta", ["tt"])
def test_onnx_runtime_matches_pytorch(tmp_path, rosta):
    torch.manual_seed(0)
    model = GFM("efficientnet_lite0", rosta).eval()
    weights = tmp_path / f"lite_{rosta}.pth"
    torch.save(model.state_dict(), weights)
    # 96x64: the deepest features are 3x2, so the 5x5 pyramid pooling bins overlap (the awkward case)
    path = export_onnx(weights, tmp_path / "gfm.onnx", height=96, width=64, with_maps=True)
    x = torch.rand(1, 3, 96, 64) * 255
    with torch.no_grad():
        expected = model(x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"image": x.numpy()})))
    assert names == (["alpha", "glance", "focus"] if rosta == "tt" else ["alpha"])
    for name in names:
        assert np.abs(got[name] - expected[name].numpy()).max() < 1e-4, name


def test_cli_writes_the_graph_and_rejects_sizes_not_multiple_of_32(tmp_path, capsys):
    weights = tmp_path / "w.pth"
    torch.save(GFM("efficientnet_lite0", "tt").state_dict(), weights)
    assert main(["export-onnx", str(weights), "-o", str(tmp_path / "m.onnx"), "--size", "32", "32"]) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 1_000_000
    assert main(["export-onnx", str(weights), "-o", str(tmp_path / "n.onnx"), "--size", "50", "64"]) == 2
    assert "multiples of 32, not 50x64" in capsys.readouterr().err
    assert not (tmp_path / "n.onnx").exists()
    with pytest.raises(UsageError):
        export_onnx(weights, tmp_path / "x.onnx", height=0, width=64)
