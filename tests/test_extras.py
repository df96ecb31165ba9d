"""A feature whose pip extra is missing says so in one sentence, through the real command, before any work.

The missing package is simulated by a ``None`` entry in ``sys.modules`` (Python then refuses to import it).
"""

import sys

import numpy as np
import pytest

from mattekit import io
from mattekit.cli import main
from mattekit.errors import UsageError
from mattekit.extras import require
from mattekit.training.trainer import summary_writer


def hide(monkeypatch, *modules):
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def said(capsys, extra: str, feature: str, missing: str) -> bool:
    return capsys.readouterr().err == (f"mattekit: {feature} needs the {extra} extra ({missing} is missing): "
                                       f"pip install 'mattekit[{extra}]'.\n")


@pytest.fixture
def photos(tmp_path):
    """A foreground set (image/, alpha/) and a background folder of tiny noisy photos."""
    rng = np.random.default_rng(0)
    io.save_image(tmp_path / "fgs" / "image" / "cat.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    io.save_alpha(tmp_path / "fgs" / "alpha" / "cat.png", np.tile(np.linspace(0, 1, 32, dtype=np.float32), (24, 1)))
    io.save_image(tmp_path / "bgs" / "sea.png", rng.integers(0, 256, (30, 30, 3), dtype=np.uint8))
    return tmp_path


def test_denoise_without_the_rssn_extra(monkeypatch, photos, capsys):
    hide(monkeypatch, "bm3d")
    code = main(["denoise", str(photos / "bgs"), "--workers", "2", "--cache", str(photos / "store"), "--quiet"])
    assert code == 2 and said(capsys, "rssn", "BM3D denoising (RSSN)", "bm3d")


def test_compose_rssn_without_the_rssn_extra_writes_nothing(monkeypatch, photos, capsys):
    hide(monkeypatch, "bm3d")
    out = photos / "out"
    # seed 3: the first sample uses the denoised copies (as in test_compose_cli)
    code = main(["compose", str(photos / "fgs"), str(photos / "bgs"), "-o", str(out), "--mode", "rssn",
                 "--per-foreground", "2", "--seed", "3", "--foreground", "ml", "--cache", str(photos / "store"),
                 "--quiet"])
    assert code == 2 and said(capsys, "rssn", "BM3D denoising (RSSN)", "bm3d")
    assert not out.exists() or not any(out.rglob("*.png"))


def test_compose_without_rssn_needs_no_extra(monkeypatch, photos, capsys):
    hide(monkeypatch, "bm3d")
    assert main(["compose", str(photos / "fgs"), str(photos / "bgs"), "-o", str(photos / "out"), "--mode", "coco",
                 "--per-foreground", "1", "--foreground", "ml", "--cache", str(photos / "store"), "--quiet"]) == 0
    assert len(list((photos / "out").rglob("*.png"))) > 0


@pytest.mark.parametrize("missing", ["uvicorn", "fastapi"])
def test_serve_without_the_serve_extra(monkeypatch, capsys, missing):
    hide(monkeypatch, missing)
    assert main(["serve", "--port", "1"]) == 2 and said(capsys, "serve", "mattekit serve", missing)


def test_synthesize_without_the_synth_extra_touches_nothing(monkeypatch, tmp_path, capsys):
    hide(monkeypatch, "diffusers")
    out = tmp_path / "set"
    code = main(["synthesize", "--generate", "1", "--model", str(tmp_path / "sd"), "--interpreter",
                 str(tmp_path / "interpreter.safetensors"), "-o", str(out), "--no-progress"])
    assert code == 2 and said(capsys, "synth", "diffusion synthesis", "diffusers")
    assert not out.exists()


def test_train_asking_for_tensorboard_without_the_train_extra_stops_first(monkeypatch, tmp_path, capsys):
    hide(monkeypatch, "tensorboard")
    config = tmp_path / "run.yaml"
    config.write_text(f"run_dir: {tmp_path / 'run'}\ntensorboard: true\n")
    assert main(["train", str(config)]) == 2
    assert said(capsys, "train", "TensorBoard logging (tensorboard: true)", "tensorboard")
    assert not (tmp_path / "run").exists()


def test_tensorboard_setting(monkeypatch):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    assert summary_writer(None) is SummaryWriter and summary_writer(True) is SummaryWriter
    assert summary_writer(False) is None
    hide(monkeypatch, "tensorboard")
    assert summary_writer(None) is None  # not asked for: the CSV logs only, silently
    with pytest.raises(UsageError, match=r"pip install 'mattekit\[train\]'"):
        summary_writer(True)


def test_tensorboard_setting_must_be_true_false_or_null(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("tensorboard: 1\n")
    assert main(["train", str(config)]) == 2
    assert capsys.readouterr().err.endswith("training setting tensorboard must be true, false or null, not 1.\n")


def test_require_names_only_known_extras():
    with pytest.raises(ValueError, match="unknown extra 'gpu'"):
        require("gpu", "numpy", feature="x")
    assert require("rssn", "numpy", feature="x")[0] is np
