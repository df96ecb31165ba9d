"""The dfimat and mrn engines: weight files round trip, the Session protocol, the CRM's input."""

import numpy as np
import pytest
import torch

from mattekit.engines import load_engine
from mattekit.engines.dfimat_weights import read_dfimat, write_dfimat
from mattekit.errors import InputError, UsageError, WeightsError
from mattekit.interactive import Box, Click, Session, Text, conflict_map
from mattekit.models.dfimat import ISCN, MRN, iscn_settings, mrn_settings


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("dfimat")
    iscn, mrn = ISCN(iscn_settings("tiny", layers=2)), MRN(mrn_settings("tiny"))
    with torch.no_grad():  # a non-trivial mask from random weights: no saturated sigmoid everywhere
        iscn.decoder.mask_embedding[-1].weight.mul_(0.05)
    write_dfimat(folder / "both.safetensors", iscn, mrn)
    write_dfimat(folder / "iscn.safetensors", iscn=iscn)
    write_dfimat(folder / "mrn.safetensors", mrn=mrn)
    return folder, iscn.eval(), mrn.eval()


def image(height=64, width=96, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)


def test_save_load_round_trip_gives_identical_outputs(files):
    folder, iscn, mrn = files
    loaded_iscn, loaded_mrn = read_dfimat(folder / "both.safetensors")
    for a, b in ((iscn, loaded_iscn), (mrn, loaded_mrn)):
        assert a.settings == b.settings and all(torch.equal(x, y) for x, y in
                                                zip(a.state_dict().values(), b.state_dict().values()))
    rounds = [[Box(5, 5, 60, 60), Text("the person on the left")], [Click(30, 30), Click(80, 10, positive=False)]]
    alphas = []
    for weights in (folder / "both.safetensors", f"{folder / 'iscn.safetensors'},{folder / 'mrn.safetensors'}"):
        session = Session(image(), "dfimat", weights=str(weights), foreground=False)
        alphas.append([session.round(r).alpha for r in rounds])
    assert all(np.array_equal(a, b) for a, b in zip(*alphas))
    assert alphas[0][0].shape == (64, 96) and alphas[0][0].dtype == np.float32
    # the same networks run by hand give the same first round
    x = torch.from_numpy(image()).permute(2, 0, 1)[None].float()
    from mattekit.models.dfimat import make_target
    with torch.no_grad():
        mask = torch.sigmoid(torch.nn.functional.interpolate(
            iscn(x, [make_target(rounds[0], (64, 96))])["mask"][:, None], size=(64, 96), mode="bilinear"))
        alpha = mrn(x, mask)["alpha"][0, 0].numpy()
    assert np.allclose(alphas[0][0], alpha, atol=1e-6)


def test_session_caches_image_features_and_crm_gets_the_cores_conflict_map(files):
    folder = files[0]
    engine = load_engine("dfimat", weights=str(folder / "both.safetensors"), foreground=False)
    calls, seen = [], []
    encode = engine.iscn.encode
    engine.iscn.encode = lambda x: calls.append(1) or encode(x)
    engine.iscn.crm.register_forward_pre_hook(lambda module, args: seen.append(args[0][0].clone()))
    session = Session(image(), engine)
    first = session.round([Click(30, 30)])
    fg = np.argwhere(first.alpha > 0.5)
    bg = np.argwhere(first.alpha <= 0.5)
    assert len(fg) and len(bg)
    (y0, x0), (y1, x1) = fg[len(fg) // 2], bg[len(bg) // 2]
    prompts = [Click(float(x0), float(y0), positive=False), Click(float(x1), float(y1))]
    session.round(prompts)
    session.round([Click(50, 20)])
    assert len(calls) == 1  # the image encoder ran once for three rounds
    expected = conflict_map(first.alpha, prompts, (64, 96))
    assert set(np.unique(expected)) == {0, 1, 2} and np.array_equal(session.rounds()[1].conflict, expected)
    assert np.array_equal(seen[1].numpy(), expected) and not seen[0].any()


def test_mrn_engine_refines_a_trimap_or_mask(files):
    folder = files[0]
    engine = load_engine("mrn", weights=str(folder / "mrn.safetensors"), foreground=False)
    trimap = np.zeros((64, 96), np.uint8)
    trimap[10:50, 20:60], trimap[20:40, 30:50] = 128, 255
    alpha = engine.predict(image(), trimap).alpha
    assert alpha.shape == (64, 96) and 0 <= alpha.min() and alpha.max() <= 1
    assert np.array_equal(alpha, engine.predict(image(), trimap.astype(np.float32) / 255).alpha)
    big = load_engine("mrn", weights=str(folder / "both.safetensors"), foreground=False, max_size=48)
    assert big.predict(image(), trimap).alpha.shape == (64, 96)  # worked at 32x48, answered at 64x96
    with pytest.raises(InputError, match="the coarse mask is 10x10 but the image is 96x64"):
        engine.predict(image(), np.zeros((10, 10), np.uint8))
    with pytest.raises(UsageError, match="the mrn engine refines a coarse mask or trimap"):
        engine.predict(image())
    with pytest.raises(UsageError, match="holds no MRN"):
        load_engine("mrn", weights=str(folder / "iscn.safetensors"))
    with pytest.raises(UsageError, match="no DFIMat weights were ever released"):
        load_engine("dfimat")
    with pytest.raises(UsageError, match="two of the weight files given hold ISCN"):
        load_engine("dfimat", weights=f"{folder / 'both.safetensors'},{folder / 'iscn.safetensors'}")
    with pytest.raises(WeightsError, match="is not a DFIMat weight file"):
        other = folder / "other.safetensors"
        from safetensors.torch import save_file
        save_file({"x": torch.zeros(1)}, str(other))
        load_engine("mrn", weights=str(other))


def test_mrn_exports_to_onnx_and_runs_the_same(files, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    from mattekit.cli import main
    folder, _, mrn = files
    out = tmp_path / "mrn.onnx"
    assert main(["export-onnx", str(folder / "mrn.safetensors"), "-o", str(out), "--size", "64", "96"]) == 0
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)
    mask = (rng.uniform(0, 1, (1, 1, 64, 96)) > 0.5).astype(np.float32)
    got = onnxruntime.InferenceSession(str(out)).run(["alpha"], {"image": image, "mask": mask})[0]
    with torch.no_grad():
        want = mrn(torch.from_numpy(image), torch.from_numpy(mask))["alpha"].numpy()
    assert np.abs(got - want).max() < 1e-4
    assert main(["export-onnx", str(folder / "iscn.safetensors"), "-o", str(tmp_path / "x.onnx")]) != 0
    assert not (tmp_path / "x.onnx").exists()
