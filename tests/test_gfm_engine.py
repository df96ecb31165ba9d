"""GFM engine: sizes, checkpoint reading and recognition, strategies on CPU, ensemble, trimap as glance."""

import json

import numpy as np
import pytest
import torch

from mattekit.engines import load_engine
from mattekit.engines.gfm import GFMEngine, network_size, weight_list
from mattekit.engines.gfm_weights import build_from_weights, read_weights, recognise, write_weights
from mattekit.errors import UsageError, WeightsError
from mattekit.models.gfm import GFM


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Three small TT checkpoints (EfficientNet-Lite0 GFM, different seeds), official .pth style."""
    folder = tmp_path_factory.mktemp("ckpt")
    paths = []
    for seed in range(3):
        torch.manual_seed(seed)
        path = folder / f"lite_tt_{seed}.pth"
        torch.save(GFM("efficientnet_lite0", "tt").state_dict(), path)
        paths.append(path)
    return paths


def image(h=70, w=100, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_network_size_floors_to_32_and_caps_at_1600():
    assert network_size(1080, 1620, 1 / 3) == (352, 512)
    assert network_size(1080, 1620, 1 / 2) == (512, 800)
    assert network_size(7000, 100, 1.0) == (1600, 96)
    assert network_size(20, 20, 0.5) == (32, 32)


@pytest.mark.parametrize("backbone,rosta,filename", [
    ("r34", "tt", "any.pth"), ("r34", "ft", "gfm_r34_ft.pth"), ("r34", "bt", "gfm_r34_bt.pth"),
    ("r34_2b", "tt", "x.pth"), ("d121", "tt", "x.pth"), ("r101", "tt", "x.pth"), ("d121", "rim", "x.pth")])
def test_released_variants_are_recognised_from_keys(backbone, rosta, filename):
    with torch.device("meta"):
        state = GFM(backbone, rosta).state_dict()
    assert recognise(state, {}, filename) == (backbone, rosta)


def test_two_class_checkpoint_without_a_telling_name_asks_for_rosta():
    with torch.device("meta"):
        state = GFM("r34", "bt").state_dict()
    with pytest.raises(UsageError, match="cannot tell which; pass rosta 'ft' or 'bt'"):
        recognise(state, {}, "model.pth")


def test_safetensors_written_once_per_tensor_round_trip_with_metadata(tmp_path):
    torch.manual_seed(1)
    model = GFM("efficientnet_lite0", "bt", ppm="top").eval()
    path = write_weights(model, tmp_path / "m.safetensors")
    state, metadata = read_weights(path)
    assert "encoder1.0._expand_conv.weight" not in state  # alias of efficientnet._blocks.1
    assert metadata["rosta"] == "bt" and '"ppm": "top"' in metadata["options"]
    again = build_from_weights(path)
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        assert torch.equal(model(x)["alpha"], again(x)["alpha"])
    assert not list(tmp_path.glob(".m.safetensors.*"))  # no temporary file left


def test_unreadable_or_foreign_files_are_one_sentence_errors(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError) as caught:
        build_from_weights(bad)
    assert str(caught.value) == (f"{bad} is not a PyTorch weight file (it is corrupt, truncated or of another "
                                 "format); fetch it again or pass the right file.")
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2)}, other)
    with pytest.raises(WeightsError, match="other.pth is not a GFM checkpoint"):
        build_from_weights(other)
    with pytest.raises(WeightsError, match="needs a checkpoint"):
        GFMEngine(None)


class Payload:
    """An object whose unpickling would call a function: what a malicious checkpoint carries."""

    def __reduce__(self):
        return (print, ("unpickled",))


def test_a_malicious_pickle_is_refused_in_one_sentence(tmp_path, capsys):
    evil = tmp_path / "evil.pth"
    torch.save({"conv.weight": torch.zeros(1), "payload": Payload()}, evil)
    with pytest.raises(WeightsError) as caught:
        build_from_weights(evil)
    assert str(caught.value) == (
        f"{evil} is a pickle that asks for the Python object print, not only tensors, and is refused "
        "because unpickling it could run code; use a checkpoint of plain tensors (a state_dict) or a .safetensors "
        "file.")
    assert "unpickled" not in capsys.readouterr().out
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\xff" * 64)
    with pytest.raises(WeightsError, match=r"^\S+broken.safetensors is not a valid safetensors file \([^\n]*\); "
                                           r"fetch it again or pass the right file\.$"):
        build_from_weights(broken)


def test_wrong_backbone_override_names_the_recognised_one(checkpoints):
    with pytest.raises(WeightsError, match=r"missing keys such as resnet.conv1.weight.*recognised from the file: efficientnet_lite0, tt"):
        build_from_weights(checkpoints[0], backbone="r34", rosta="tt")


def fake_passes(engine, glance_classes, focus_value):
    """Replace the network passes by hand-made maps, recording the ratios asked for."""
    calls = []

    def run(model, img, ratio):
        calls.append(ratio)
        h, w = network_size(*img.shape[:2], ratio)
        classes = np.asarray(glance_classes(h, w))
        glance = np.eye(3, dtype=np.float32)[classes]
        return {"glance": glance, "focus": np.full((h, w, 1), focus_value, np.float32),
                "alpha": np.full((h, w, 1), 0.25, np.float32)}
    engine.run = run
    return calls


def test_hybrid_merges_glance_at_1_over_d1_and_focus_at_1_over_d2_at_full_size(checkpoints):
    engine = GFMEngine(checkpoints[0], strategy="hybrid", foreground=False)

    def centre_foreground(h, w):  # background, a transition ring, foreground in the middle
        classes = np.zeros((h, w), int)
        classes[h // 4:3 * h // 4, w // 4:3 * w // 4] = 1
        classes[3 * h // 8:5 * h // 8, 3 * w // 8:5 * w // 8] = 2
        return classes
    calls = fake_passes(engine, centre_foreground, 0.3)
    alpha = engine.predict(image(192, 288)).alpha
    assert calls == [1 / 3, 1 / 2]
    assert alpha.shape == (192, 288)
    assert alpha[0, 0] == 0 and alpha[96, 144] == 1
    assert set(np.unique(alpha)) == {0.0, np.float32(0.3), 1.0}


def test_resize_strategy_is_one_pass_at_the_ratio(checkpoints):
    engine = GFMEngine(checkpoints[0], strategy="resize", ratio=0.5, foreground=False)
    calls = fake_passes(engine, lambda h, w: np.zeros((h, w), int), 0.0)
    assert np.allclose(engine.predict(image(96, 64)).alpha, 0.25)
    assert calls == [0.5]


def test_strategy_choices_are_checked(checkpoints):
    with pytest.raises(UsageError, match="hybrid needs d1 >= d2"):
        GFMEngine(checkpoints[0], d1=2, d2=3)
    with pytest.raises(UsageError, match="strategy 'rim' needs RIM checkpoints"):
        GFMEngine(checkpoints[0], strategy="rim")
    with pytest.raises(UsageError, match="unknown strategy 'tiles'"):
        GFMEngine(checkpoints[0], strategy="tiles")
    with pytest.raises(UsageError, match="the gfm engine has no option 'dilation'; GFM construction options: "
                                         "decoder6_dilation, single_decoder, ppm, bridge"):
        GFMEngine(checkpoints[0], dilation=2)


def test_real_passes_on_cpu_give_a_valid_matte_and_respect_a_trimap(checkpoints):
    engine = load_engine("gfm", weights=str(checkpoints[0]), strategy="hybrid", device="cpu")
    img = image()
    matte = engine.predict(img)
    assert matte.alpha.shape == (70, 100) and matte.alpha.dtype == np.float32
    assert 0 <= matte.alpha.min() and matte.alpha.max() <= 1
    assert matte.foreground.shape == (70, 100, 3)
    trimap = np.full((70, 100), 128, np.uint8)
    trimap[:, :30], trimap[:, 70:] = 0, 255
    guided = engine.predict(img, trimap).alpha
    assert (guided[:, :30] == 0).all() and (guided[:, 70:] == 1).all()
    assert np.array_equal(guided[:, 30:70], matte.alpha[:, 30:70])


def test_en_median_ensemble_is_the_pixelwise_median(checkpoints):
    ensemble = GFMEngine(",".join(map(str, checkpoints)), strategy="resize", foreground=False, device="cpu")
    img = image()
    singles = [ensemble.alpha_of(model, img.astype(np.float32)) for model in ensemble.models]
    assert not np.allclose(singles[0], singles[1])
    assert np.allclose(ensemble.predict(img).alpha, np.median(np.stack(singles), axis=0))


def test_weights_named_like_mattekit_predict_passes_them():
    # --weights ft=a.pth --weights other=b.pth: a RoSTa name sets that file's form, another name leaves it open
    assert weight_list({"ft": "a.pth", "other": "b.pth"}, None) == [("a.pth", "ft"), ("b.pth", None)]
    assert weight_list("a.pth,b.pth", "bt") == [("a.pth", "bt"), ("b.pth", "bt")]


def test_rim_checkpoint_defaults_to_the_rim_strategy(tmp_path):
    path = tmp_path / "rim.pth"
    torch.save(GFM("efficientnet_lite0", "rim").state_dict(), path)
    engine = GFMEngine(path, foreground=False)
    assert engine.strategy == "rim"
    alpha = engine.predict(image(64, 96)).alpha
    assert alpha.shape == (64, 96) and 0 <= alpha.min() and alpha.max() <= 1


def test_one_pass_at_full_size_is_the_network_on_raw_0_255_rgb(checkpoints):
    engine = GFMEngine(checkpoints[1], strategy="resize", ratio=1.0, foreground=False, device="cpu")
    img = image(64, 96, seed=3)
    x = torch.from_numpy(img).float().permute(2, 0, 1)[None]
    with torch.no_grad():
        expected = build_from_weights(checkpoints[1])(x)["alpha"][0, 0].numpy()
    assert np.allclose(engine.predict(img).alpha, np.clip(expected, 0, 1), atol=1e-5)


def test_eval_passes_gfm_flags_to_the_engine_and_records_them(checkpoints, tmp_path, capsys):
    from PIL import Image

    from mattekit import cli
    for kind in ("image", "alpha"):
        (tmp_path / "set" / kind).mkdir(parents=True)
    for i in range(2):
        Image.fromarray(image(64, 96, seed=i)).save(tmp_path / "set" / "image" / f"{i}.png")
        Image.fromarray(np.full((64, 96), 255 * i, np.uint8)).save(tmp_path / "set" / "alpha" / f"{i}.png")
    report = tmp_path / "report"
    base = ["eval", "--dataset", f"folder:{tmp_path / 'set'}", "--engine", "gfm", "--weights", str(checkpoints[0]),
            "-o", str(report), "--quiet", "--strategy", "resize"]
    assert cli.main(base + ["--ratio", "0.5", "--device", "cpu", "--precision", "fp32"]) == 0
    settings = json.loads((report / "settings.json").read_text())
    assert {k: v for k, v in settings.items() if k.startswith("engine.")} == {
        "engine.device": "cpu", "engine.precision": "fp32", "engine.ratio": 0.5, "engine.strategy": "resize"}
    capsys.readouterr()
    assert cli.main(base + ["--ratio", "0.25"]) == 2  # resuming with other settings is refused
    assert ("holds a run with other settings (engine.device='cpu', not None; engine.precision='fp32', not None; "
            "engine.ratio=0.5, not 0.25); resume" in capsys.readouterr().err)
