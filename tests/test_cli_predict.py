import numpy as np
import pytest
from PIL import Image

from mattekit.cli import main


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from skimage.data import chelsea

    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(chelsea()).resize((180, 120)).save(folder / "cat.jpg")
    return folder / "cat.jpg"


def test_predict_writes_alpha_cutout_and_composite(photo, tmp_path, capsys):
    assert main(["predict", str(photo), "-o", str(tmp_path), "--background", "#00ff00"]) == 0
    alpha = np.asarray(Image.open(tmp_path / "cat.alpha.png"))
    cutout = Image.open(tmp_path / "cat.cutout.png")
    composite = np.asarray(Image.open(tmp_path / "cat.composite.png"))
    assert alpha.shape == (120, 180) and alpha.dtype == np.uint8
    assert cutout.mode == "RGBA" and np.array_equal(np.asarray(cutout)[..., 3], alpha)
    assert composite.shape == (120, 180, 3)
    background = alpha == 0
    assert background.any() and (composite[background] == [0, 255, 0]).all()
    assert "1 of 1 images matted" in capsys.readouterr().out


def test_batch_goes_on_past_a_corrupt_file(photo, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.jpg").write_bytes(photo.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    trimaps = tmp_path / "trimaps"
    trimaps.mkdir()
    trimap = np.zeros((120, 180), np.uint8)
    trimap[30:90, 50:130], trimap[45:75, 70:110] = 128, 255
    Image.fromarray(trimap).save(trimaps / "good.png")
    out = tmp_path / "out"
    assert main(["predict", str(folder), "-o", str(out), "--trimap", str(trimaps)]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 images matted" in captured.out
    assert "failed:" in captured.err and "broken.png" in captured.err and "Traceback" not in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["good.alpha.png", "good.cutout.png"]
    alpha = np.asarray(Image.open(out / "good.alpha.png"))
    assert (alpha[trimap == 255] == 255).all() and (alpha[trimap == 0] == 0).all()


def test_skip_existing(photo, tmp_path, capsys):
    (tmp_path / "cat.alpha.png").write_bytes(b"kept")
    (tmp_path / "cat.cutout.png").write_bytes(b"kept")
    assert main(["predict", str(photo), "-o", str(tmp_path), "--skip-existing"]) == 0
    assert (tmp_path / "cat.alpha.png").read_bytes() == b"kept"
    assert "1 skipped" in capsys.readouterr().out


def test_bad_trimap_is_one_sentence_and_leaves_nothing(photo, tmp_path, capsys):
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    out = tmp_path / "out"
    assert main(["predict", str(photo), "-o", str(out), "--trimap", str(tmp_path / "small.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"failed: {tmp_path / 'small.png'} is 10x10 but its image is 180x120; a trimap must have the " \
                  "image's size."
    assert not out.exists() or not any(out.iterdir())


def test_missing_input_and_usage_errors(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nothing.jpg"), "-o", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"mattekit: {tmp_path / 'nothing.jpg'} does not exist."
    assert main(["predict", str(tmp_path), "--weights", "a=1", "--weights", "b"]) == 2
    assert "each must be NAME=PATH" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), "--backbone", "r34"]) == 2  # a GFM flag given to the default engine
    assert capsys.readouterr().err.startswith("mattekit: the default engine has no option 'backbone'; its options:")
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "x.jpg", "--engine", "no-such-engine"])
    assert exit_info.value.code == 2


def test_models_list_names_every_source(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "modnet" in out and "u2netp" in out and "efficientnet-lite0-imagenet" in out
