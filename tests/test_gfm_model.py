"""GFM network: the released checkpoints' keys and shapes, strict loading round trip, forward shapes, merge rules."""

from pathlib import Path

import pytest
import torch

from mattekit.errors import UsageError
from mattekit.models.gfm import DECODERS, GFM, ROSTAS, RoSTaHeads, collaborative_merge
from mattekit.models.fuse import fold_batch_norm
from mattekit.models.gfm_blocks import adaptive_avg_pool

KEYS = Path(__file__).resolve().parent / "data" / "gfm-checkpoint-keys"  # key lists of the released GFM checkpoints
RELEASED = [("r34", "TT"), ("r34", "FT"), ("r34", "BT"), ("r34_2b", "TT"), ("d121", "TT"), ("r101", "TT"),
            ("d121", "RIM")]
BACKBONES = ["r34", "r34_2b", "d121", "r101", "efficientnet_lite0"]


def reference(backbone: str, rosta: str) -> dict[str, tuple]:
    path = KEYS / f"keys_{backbone}_{rosta}.txt"
    return {key: eval(shape) for key, shape in (line.split("\t") for line in path.read_text().splitlines())}


def cheap_model(backbone: str, rosta: str) -> GFM:
    """A GFM built on the meta device, then given small deterministic weights (fast even for r101)."""
    with torch.device("meta"):
        model = GFM(backbone, rosta)
    model = model.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(0)
    for p in model.parameters():
        p.data.uniform_(-0.02, 0.02, generator=generator)
    for name, b in model.named_buffers():
        b.fill_(1 if name.endswith("running_var") else 0)
    return model.eval()


@pytest.mark.parametrize("backbone,rosta", RELEASED)
def test_state_dict_has_exactly_the_released_keys_and_shapes(backbone, rosta):
    with torch.device("meta"):
        model = GFM(backbone, rosta.lower())
    got = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert got == reference(backbone, rosta)


def test_official_style_checkpoint_loads_strictly_and_round_trips(tmp_path):
    torch.manual_seed(0)
    source = GFM("efficientnet_lite0", "rim").eval()
    for m in source.modules():  # non-trivial batch-norm statistics, so a missed buffer would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "gfm_lite0_rim.pth"
    torch.save(source.state_dict(), path)  # what the official train.py writes: a plain dict
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    assert "efficientnet._blocks.3._depthwise_conv.weight" in loaded and "encoder2.0._depthwise_conv.weight" in loaded
    target = GFM("efficientnet_lite0", "rim").eval()
    assert target.load_state_dict(loaded, strict=True).missing_keys == []
    x = torch.rand(1, 3, 64, 96) * 255
    with torch.no_grad():
        a, b = source(x), target(x)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_strict_loading_names_a_foreign_key():
    model = GFM("efficientnet_lite0", "tt")
    state = model.state_dict()
    state["decoder9_g.0.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="decoder9_g"):
        model.load_state_dict(state, strict=True)


@pytest.fixture(scope="module", params=BACKBONES)
def decoded(request):
    """Per backbone: the model and its two decoders' features for a 64x64 input (built and run once).

    The ResNet and DenseNet ones run on the meta device, which propagates shapes without computing (r101 alone
    has 497 M parameters); EfficientNet-Lite0 computes on the CPU, as do the round-trip and ablation tests."""
    if request.param != "efficientnet_lite0":
        with torch.device("meta"):
            model = GFM(request.param, "tt").eval()
        x = torch.empty(2, 3, 64, 64, device="meta")
    else:
        model, x = cheap_model(request.param, "tt"), torch.rand(2, 3, 64, 64) * 255
    with torch.no_grad():
        features = model.encoder(x)
        return model, model.glance(features), model.focus(features)


@pytest.mark.parametrize("rosta", ROSTAS)
def test_forward_shapes_for_every_backbone_and_rosta(decoded, rosta):
    model, glance_features, focus_features = decoded
    spec = DECODERS[model.backbone]
    heads = RoSTaHeads(rosta, model.glance.out_channels, model.focus.out_channels, spec).eval()
    heads = heads.to(glance_features.device)
    with torch.no_grad():
        out = heads(glance_features, focus_features)
    forms = ("tt", "ft", "bt") if rosta == "rim" else (rosta,)
    for form in forms:
        suffix = f"_{form}" if rosta == "rim" else ""
        assert out[f"glance{suffix}"].shape == (2, 3 if form == "tt" else 2, 64, 64)
        assert out[f"focus{suffix}"].shape == (2, 1, 64, 64)
        assert out[f"alpha{suffix}"].shape == (2, 1, 64, 64)
    assert out["alpha"].shape == (2, 1, 64, 64)


def test_whole_forward_matches_parts_and_alpha_is_in_range():
    model = cheap_model("efficientnet_lite0", "ft")
    x = torch.rand(1, 3, 96, 64) * 255
    with torch.no_grad():
        out = model(x)
    assert out["alpha"].shape == (1, 1, 96, 64)
    assert 0 <= out["alpha"].min() and out["alpha"].max() <= 1
    assert torch.allclose(out["glance"].sum(1), torch.ones(1, 96, 64))


@pytest.mark.parametrize("options", [dict(single_decoder=True), dict(ppm="top"), dict(ppm="none"),
                                     dict(bridge=False)])
def test_table4_ablations_build_and_run(options):
    model = GFM("efficientnet_lite0", "tt", **options).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64) * 255)
    assert out["alpha"].shape == (1, 1, 64, 64)
    names = model.state_dict().keys()
    assert ("bridge_block.0.weight" in names) == (options.get("bridge", True) and "single_decoder" not in options)
    assert ("psp_module.bottleneck.weight" in names) == (options.get("ppm", "all") != "none")
    assert ("psp1.0.weight" in names) == (options.get("ppm", "all") == "all")


def test_decoder6_dilation_changes_r34_2b_forward_but_not_its_keys():
    with torch.device("meta"):
        one, two = GFM("r34_2b", "tt", decoder6_dilation=1), GFM("r34_2b", "tt", decoder6_dilation=2)
    assert {k: v.shape for k, v in one.state_dict().items()} == {k: v.shape for k, v in two.state_dict().items()}
    assert one.glance.decoder6_g[3].dilation == (1, 1) and two.glance.decoder6_g[3].dilation == (2, 2)
    assert two.focus.decoder6_f[6].dilation == (2, 2) and two.glance.decoder6_g[0].dilation == (1, 1)
    assert two.glance.decoder5_g[3].dilation == (1, 1)


def test_bad_options_are_one_sentence_errors():
    with pytest.raises(UsageError, match="unknown GFM backbone 'r50'"):
        GFM("r50", "tt")
    with pytest.raises(UsageError, match="unknown RoSTa 'xx'"):
        GFM("r34", "xx")
    with pytest.raises(UsageError, match="decoder6_dilation must be 1 or 2"):
        GFM("r34_2b", "tt", decoder6_dilation=3)


def one_hot_logits(classes: list[list[int]], n: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(classes), n).permute(2, 0, 1)[None].float()


def test_merge_rules_on_hand_made_maps():
    focus = torch.tensor([[[[0.3, 0.6, 0.9]]]])
    # TT: background, transition, foreground -> 0, focus, 1
    assert collaborative_merge("tt", one_hot_logits([[0, 1, 2]], 3), focus).flatten().tolist() == \
        pytest.approx([0.0, 0.6, 1.0])
    # FT: core 1 + focus clipped to 1; outside the core the focus alpha itself
    assert collaborative_merge("ft", one_hot_logits([[1, 0, 1]], 2), focus).flatten().tolist() == \
        pytest.approx([1.0, 0.6, 1.0])
    # BT: dilated region 1 - focus; outside it 0 (never negative)
    assert collaborative_merge("bt", one_hot_logits([[1, 1, 0]], 2), focus).flatten().tolist() == \
        pytest.approx([0.7, 0.4, 0.0])


@pytest.mark.parametrize("size", [1, 3, 5])
def test_pyramid_pooling_bins_equal_pytorch_adaptive_pooling_on_awkward_sizes(size):
    x = torch.rand(2, 4, 7, 11)
    assert torch.allclose(adaptive_avg_pool(x, size), torch.nn.functional.adaptive_avg_pool2d(x, size), atol=1e-6)


def test_folding_batch_norm_keeps_the_outputs():
    torch.manual_seed(0)
    model = GFM("efficientnet_lite0", "rim").eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        before = model(x)
        after = fold_batch_norm(model)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.encoder.encoder2.modules())
    for key in ("glance_tt", "focus_tt", "alpha"):
        assert torch.allclose(before[key], after[key], atol=1e-4), key
