"""DFIMat networks: shapes for every prompt type, the visual sampler, the attention structure, the CRM input."""

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mattekit.interactive.prompts import Box, Click, Scribble, Text, rasterise
from mattekit.models.dfimat import ISCN, MRN, iscn_settings, make_target, mrn_settings
from mattekit.models.dfimat.decoder import MEMORY, OBJECT, TEXT, VISUAL, prompt_attention_mask
from mattekit.models.dfimat.mrn import dilate, ellipse_kernel, uncertain_region
from mattekit.models.dfimat.prompts import sample_features, sample_points
from mattekit.training.dfimat_losses import hard_l1, iscn_loss, iscn_terms, mrn_loss, pair_costs

PROMPTS = {
    "click": [Click(10, 12), Click(40, 30, positive=False), Click(20, 40)],
    "scribble": [Scribble([(5, 5), (20, 30), (25, 50)]), Scribble([(50, 10), (60, 20)], positive=False)],
    "box": [Box(4, 6, 40, 60)],
    "text": [Text("the person on the left")],
    "mixed": [Text("the smallest person"), Box(4, 6, 40, 60), Click(20, 40), Scribble([(50, 10), (55, 30)], False)],
}


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "r34"])
def test_every_prompt_type_and_mix_at_two_sizes(backbone):
    torch.manual_seed(0)
    net = ISCN(iscn_settings("tiny", backbone=backbone)).eval()
    for height, width in ((64, 64), (96, 128)):
        images = torch.rand(2, 3, height, width) * 255
        previous = np.zeros((height, width), np.float32)
        previous[10:50, 5:30] = 1
        targets = [make_target(p, (height, width), image=i % 2) for i, p in enumerate(PROMPTS.values())]
        targets.append(make_target(PROMPTS["click"], (height, width), previous=previous,
                                   conflict=np.ones((height, width), np.uint8)))
        with torch.no_grad():
            out = net(images, targets)
        b, q = len(targets), out["kinds"].numel()
        assert out["masks"].shape == (b, q, height // 4, width // 4) and out["classes"].shape == (b, q, 2)
        assert out["mask"].shape == (b, height // 4, width // 4) and torch.isfinite(out["masks"]).all()
        # the chosen query is a prompt query of the target (a text query only where there is text)
        chosen_kind = out["kinds"][out["chosen"]].tolist()
        assert chosen_kind[3] == TEXT and chosen_kind[0] == VISUAL and set(chosen_kind) <= {TEXT, VISUAL}
        assert out["valid"][:, out["kinds"] == MEMORY].any(1).tolist() == [False] * 5 + [True]
        with torch.no_grad():  # a batch with no visual prompt at all (text training, a sentence-only round)
            alone = net(images[:1], [make_target(PROMPTS["text"], (height, width))])
        assert alone["kinds"][alone["chosen"]].tolist() == [TEXT]
        assert alone["mask"].shape == (1, height // 4, width // 4)


def test_mrn_outputs_and_prm_rule():
    torch.manual_seed(0)
    net = MRN(mrn_settings("tiny")).eval()
    for size in ((64, 64), (96, 128)):
        with torch.no_grad():
            out = net(torch.rand(1, 3, *size) * 255, torch.rand(1, 1, *size))
        assert out["alpha"].shape == (1, 1, *size)
        # PRM: 1/1 output where its region says, else the 1/4 output in its region, else the 1/8 output
        expected = torch.where(out["region_os4"], out["alpha_os4"], out["alpha_os8"])
        expected = torch.where(out["region_os1"], out["alpha_os1"], expected)
        assert torch.equal(out["alpha"], expected)
    assert sum(p.numel() for p in MRN(mrn_settings("dfimat-s")).parameters()) < 0.5 * sum(
        p.numel() for p in MRN(mrn_settings("dfimat")).parameters())


def test_prm_dilation_is_the_ellipse_convolution():
    # the region MGMatting defines as conv2d(unknown, ellipse) > 0, computed by row-wise max-pools
    generator = torch.Generator().manual_seed(0)
    unknown = (torch.rand(2, 1, 37, 53, generator=generator) > 0.97).float()
    unknown[0, 0, 0, 0] = unknown[1, 0, -1, -1] = 1  # at the corners: the image border counts as 0
    for width in (1, 2, 5, 8, 15, 30):
        kernel = ellipse_kernel(width)
        expected = F.conv2d(unknown, kernel, padding=kernel.shape[-1] // 2) > 0
        assert torch.equal(dilate(unknown, kernel), expected), width
    alpha = torch.zeros(1, 1, 9, 9)
    alpha[0, 0, 4, 4] = 0.5
    assert uncertain_region(alpha, 3)[0, 0].sum() == 9 and not uncertain_region(alpha * 0, 3).any()


def test_visual_sampler_samples_inside_the_prompt_masks_and_reads_the_features_there():
    torch.manual_seed(0)
    for prompt in (Click(30, 20), Scribble([(3, 3), (40, 50)]), Box(10, 5, 20, 30)):
        mask = torch.from_numpy(rasterise(prompt, (64, 64)))
        for training in (False, True):
            points = sample_points(mask, 50, training)
            assert mask[points[:, 0], points[:, 1]].all()
    features = torch.rand(4, 16, 16)
    points = torch.tensor([[3, 7], [15, 0]])
    assert torch.allclose(sample_features(features, points, (16, 16)), features[:, points[:, 0], points[:, 1]].T,
                          atol=1e-6)
    net = ISCN(iscn_settings("tiny")).eval()
    target = make_target([Click(30, 20), Click(5, 5, positive=False)], (64, 64))
    feats = net.encode(torch.rand(1, 3, 64, 64) * 255)
    levels = feats["levels"]
    tokens, _, _, valid, owner = net.visual_sampler([target], levels, feats["positions"], feats["mask_features"],
                                                    (64, 64))
    n = net.settings.points
    # the negative prompt's tokens: level map of the features at its points plus the negative embedding
    pts = sample_points(target.masks[1], n, False)
    want = net.visual_sampler.level_maps[2](sample_features(levels[2][0], pts, (64, 64)))
    want = want + net.visual_sampler.polarity.weight[0]
    assert torch.allclose(tokens[2][0, n:], want, atol=1e-5) and owner[0].tolist() == [0] * n + [1] * n
    assert valid.tolist() == [[True, True]]


def test_attention_structure_blocks_other_prompts_tokens():
    kinds = torch.tensor([OBJECT, OBJECT, TEXT, VISUAL, VISUAL, VISUAL, VISUAL, MEMORY])
    owner = torch.tensor([-1, -1, -1, 0, 0, 1, 1, -1])
    valid = torch.ones(1, 8, dtype=torch.bool)
    token_owner = torch.tensor([[-1, -1, 0, 0, 1, 1]])
    block = prompt_attention_mask(kinds, owner, valid, token_owner, torch.ones(1, 6, dtype=torch.bool))[0]
    tokens = block[:, 8:]
    assert tokens[3:5, 4:].all() and not tokens[3:5, 2:4].any()  # prompt 0's queries: own tokens only
    assert tokens[5:7, 2:4].all() and not tokens[5:7, 4:].any()
    assert tokens[:2].all() and block[:2, 2:8].all() and not block[:2, :2].any()  # objects see objects only
    assert not tokens[2, :2].any() and tokens[2, 2:].all()  # the text queries see the text tokens only
    # in the attention itself: prompt 1's tokens changed, prompt 0's queries' output unchanged
    torch.manual_seed(0)
    net = ISCN(iscn_settings("tiny")).eval()
    attention = net.decoder.layers[0].prompt_attention
    q = torch.randn(1, 8, 32)
    keys = torch.randn(1, 6, 32)
    changed = keys.clone()
    changed[:, 4:] += 5
    mask = block[None].repeat_interleave(attention.num_heads, 0)
    a = attention(q, torch.cat([q, keys], 1), torch.cat([q, keys], 1), attn_mask=mask)[0]
    b = attention(q, torch.cat([q, changed], 1), torch.cat([q, changed], 1), attn_mask=mask)[0]
    assert torch.allclose(a[:, 3:5], b[:, 3:5], atol=1e-6) and not torch.allclose(a[:, 5:7], b[:, 5:7])
    # through the whole network: object queries never see the prompts
    image = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        one = net(image, [make_target([Click(10, 10)], (64, 64))])
        two = net(image, [make_target([Box(5, 5, 50, 60), Text("the tall one")], (64, 64))])
    objects = one["kinds"] == OBJECT
    assert torch.allclose(one["masks"][:, objects], two["masks"][:, objects], atol=1e-5)


def test_eq6_terms_by_hand():
    logits = torch.zeros(1, 2)  # p = 0.5 on two pixels
    target = torch.tensor([[1.0, 0.0]])
    terms = iscn_terms(logits, target, torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.tensor([1, 0]))
    ce = (math.log(2) + math.log(1 + math.exp(-2))) / 2
    dice = 1 - (2 * 0.5 + 1) / (1 + 1 + 1)
    assert terms["ce"].item() == pytest.approx(ce, abs=1e-6)
    assert terms["bce"].item() == pytest.approx(math.log(2), abs=1e-6)
    assert terms["dice"].item() == pytest.approx(dice, abs=1e-6)
    assert terms["loss"].item() == pytest.approx(0.1 * ce + math.log(2) + dice, abs=1e-6)
    costs = pair_costs(torch.tensor([[0.0, 0.0], [9.0, -9.0]]), target)
    assert costs[0, 0].item() == pytest.approx(math.log(2) + dice, abs=1e-5) and costs[1, 0] < costs[0, 0]


def test_eq6_matching_picks_the_closest_prompt_query():
    kinds = torch.tensor([OBJECT, VISUAL, VISUAL])
    masks = torch.tensor([[[[-9.0, -9.0]], [[5.0, -5.0]], [[-5.0, 5.0]]]])  # (B=1, Q=3, 1, 2)
    classes = torch.zeros(1, 3, 2)
    out = {"masks": masks, "classes": classes, "kinds": kinds, "valid": torch.ones(1, 3, dtype=torch.bool),
           "aux": []}
    target = torch.tensor([[[0.0, 1.0]]])
    loss, terms = iscn_loss(out, target, [None])
    # pairs: prompt query 2 (closest) and the object query (the only one) with the target; query 1 is no person
    want = iscn_terms(torch.stack([masks[0, 2], masks[0, 0]]), torch.cat([target, target]), classes[0],
                      torch.tensor([1, 0, 1]))
    assert loss.item() == pytest.approx(want["loss"].item(), abs=1e-6)
    # a batch is the mean of its samples (a batch split over processes gives the same loss)
    other = torch.tensor([[[1.0, 0.0]]])
    two = {**out, "masks": masks.repeat(2, 1, 1, 1), "classes": classes.repeat(2, 1, 1),
           "valid": torch.ones(2, 3, dtype=torch.bool)}
    both, _ = iscn_loss(two, torch.cat([target, other]), [None, None])
    assert both.item() == pytest.approx((loss.item() + iscn_loss(out, other, [None])[0].item()) / 2, abs=1e-6)


def test_eq7_by_hand():
    pred = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    gt = torch.tensor([[1.0, 0.5, 0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    assert hard_l1(pred, gt).item() == pytest.approx(0.18 + (1 + 0.5 + 0.2) / 3, abs=1e-6)  # top 30 %: 3 pixels
    region = torch.tensor([[True, False, False, True] + [False] * 6])
    assert hard_l1(pred, gt, region).item() == pytest.approx(0.55 + 1.0, abs=1e-6)  # 2 pixels, top 1
    assert hard_l1(pred, gt, region, lam=0).item() == pytest.approx(0.55, abs=1e-6)
    out = {"alpha_os8": pred, "alpha_os4": pred, "alpha_os1": pred, "region_os4": region,
           "region_os1": torch.zeros_like(region)}
    loss, terms = mrn_loss(out, gt)
    assert terms["os1"].item() == 0 and loss.item() == pytest.approx((hard_l1(pred, gt) + 1.55).item() / 4)


def test_minilm_text_encoder_is_frozen_projected_and_left_out_of_weight_files(tmp_path):
    from mattekit.engines.dfimat_weights import read_dfimat, write_dfimat
    from mattekit.errors import WeightsError
    try:
        net = ISCN(iscn_settings("tiny", text_encoder="minilm")).eval()
    except WeightsError as e:
        pytest.skip(f"MiniLM files unavailable: {e}")
    encoder = net.text_encoder.encoder
    assert not any(p.requires_grad for p in encoder.parameters()) and net.text_encoder.projection.weight.requires_grad
    net.train()
    assert not encoder.training  # frozen: stays in inference mode
    write_dfimat(tmp_path / "w.safetensors", iscn=net)
    back = read_dfimat([tmp_path / "w.safetensors"])[0]
    targets = [make_target([Text("the person on the left"), Click(5, 5)], (64, 64)),
               make_target([Click(5, 5)], (64, 64))]
    with torch.no_grad():
        one, two = net.eval()(torch.zeros(1, 3, 64, 64), targets), back(torch.zeros(1, 3, 64, 64), targets)
    assert torch.equal(one["mask"], two["mask"])
    assert one["valid"][:, one["kinds"] == TEXT].any(1).tolist() == [True, False]
