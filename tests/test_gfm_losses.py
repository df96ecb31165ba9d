"""GFM losses against values computed by hand (paper default and the official code's variant)."""

import math

import pytest
import torch

from mattekit.training.losses import (alpha_loss, composition_loss, gauss_kernel, gfm_loss, glance_loss,
                                      laplacian_loss, laplacian_pyramid, rim_loss)


def test_cross_entropy_of_uniform_logits_is_log_classes():
    assert glance_loss(torch.zeros(2, 3, 4, 4), torch.ones(2, 4, 4, dtype=torch.long)).item() == \
        pytest.approx(math.log(3))


def test_official_cross_entropy_on_sigmoids_has_a_floor():
    logits = torch.tensor([10.0, -10.0, -10.0]).view(1, 3, 1, 1)
    target = torch.zeros(1, 1, 1, dtype=torch.long)
    assert glance_loss(logits, target).item() == pytest.approx(0.0, abs=1e-4)
    # softmax of (1, 0, 0): -log(e / (e + 2)) = 0.551, the floor noted for the released code
    assert glance_loss(logits, target, official=True).item() == pytest.approx(math.log(1 + 2 / math.e), abs=1e-4)


def test_alpha_loss_paper_and_official_in_the_transition():
    pred, target = torch.full((1, 1, 2, 2), 0.5), torch.zeros(1, 1, 2, 2)
    weight = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    # paper: 2·sqrt(0.25 + ε²) / 2
    assert alpha_loss(pred, target, weight).item() == pytest.approx(0.5, rel=1e-6)
    # official: Σ w·sqrt(d² + ε²) / (Σw + 1) = 1 / 3
    assert alpha_loss(pred, target, weight, official=True).item() == pytest.approx(1 / 3, rel=1e-6)
    assert alpha_loss(pred, target).item() == pytest.approx(0.5, rel=1e-6)
    assert alpha_loss(pred, target, torch.zeros_like(weight)).item() == 0.0  # no transition, no loss
    # two images: the mean of the per-image losses (0.5 and 0, no transition), not the ratio of batch sums
    both = alpha_loss(torch.cat([pred, pred]), torch.cat([target, target]), torch.cat([weight, 0 * weight]))
    assert both.item() == pytest.approx(0.25, rel=1e-6)


def test_kernels():
    k = gauss_kernel()
    g = [math.exp(-(i - 2) ** 2 / 2) for i in range(5)]
    assert k[0, 0].item() == pytest.approx(g[0] * g[0] / sum(g) ** 2)
    plus = gauss_kernel(official=True)
    # g(i)² + g(j)²: the centre row and column stand out, corners are tiny: a plus shape
    assert plus[2, 0].item() / plus[0, 0].item() == pytest.approx((1 + math.exp(-4)) / (2 * math.exp(-4)))
    assert plus.sum().item() == pytest.approx(1.0)


def test_pyramid_levels_and_constant_images():
    x = torch.full((1, 1, 64, 64), 0.7)
    pyramid = laplacian_pyramid(x)
    assert [p.shape[-1] for p in pyramid] == [64, 32, 16, 8, 4, 2]
    assert all(p.abs().max() < 1e-6 for p in pyramid[:5]) and torch.allclose(pyramid[5], torch.tensor(0.7))
    # a constant shift lives only in the residual: the paper's five band-pass levels ignore it, the official
    # sixth level sees it fully
    assert laplacian_loss(x, x - 0.2).item() == pytest.approx(0.0, abs=1e-6)
    assert laplacian_loss(x, x - 0.2, official=True).item() == pytest.approx(0.2, abs=1e-5)


def test_laplacian_of_a_single_spike_by_hand():
    x = torch.zeros(1, 1, 32, 32)
    x[0, 0, 16, 16] = 1.0
    k = gauss_kernel()
    first = laplacian_pyramid(x)[0]
    # level 1 at the spike: 1 - k[2, 2]; the L1 norm of level 1 is (1 - k[2,2]) + (1 - k[2,2]) = 2 (1 - k[2,2])
    assert first[0, 0, 16, 16].item() == pytest.approx(1 - k[2, 2].item(), rel=1e-5)
    assert first.abs().sum().item() == pytest.approx(2 * (1 - k[2, 2].item()), rel=1e-4)


def test_composition_loss_by_hand():
    fg, bg = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    alpha, pred = torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.5)
    assert composition_loss(pred, alpha, fg, bg).item() == pytest.approx(0.5, rel=1e-5)
    image = torch.full((1, 3, 2, 2), 0.9)  # the official code compares with the image and sums channels
    assert composition_loss(pred, alpha, fg, bg, image, official=True).item() == pytest.approx(3 * 0.4, rel=1e-5)


def batch_for(alpha: torch.Tensor) -> dict:
    fg, bg = torch.rand(1, 3, *alpha.shape[-2:]), torch.rand(1, 3, *alpha.shape[-2:])
    glance = torch.where(alpha >= 1, 1.0, torch.where(alpha > 0, 0.5, 0.0))
    transition = (glance == 0.5).float()
    return {"alpha": alpha, "fg": fg, "bg": bg, "image": alpha * fg + (1 - alpha) * bg,
            "glance_tt": glance, "focus_tt": alpha * transition, "transition_tt": transition}


def test_gfm_loss_is_the_sum_of_its_terms_and_vanishes_for_a_perfect_prediction():
    alpha = torch.zeros(1, 1, 64, 64)
    alpha[..., 16:48, 16:48] = 1.0
    alpha[..., 16:48, 15] = 0.4
    batch = batch_for(alpha)
    classes = torch.round(batch["glance_tt"][:, 0] * 2).long()
    logits = 20 * torch.nn.functional.one_hot(classes, 3).permute(0, 3, 1, 2).float()
    perfect = {"glance_logits": logits, "focus": batch["focus_tt"], "alpha": alpha}
    loss, terms = gfm_loss(perfect, batch, "tt")
    assert set(terms) == {"ce", "focus_alpha", "focus_lap", "alpha", "lap", "comp"}
    assert loss.item() == pytest.approx(sum(t.item() for t in terms.values()))
    assert loss.item() < 1e-4
    worse = dict(perfect, alpha=torch.zeros_like(alpha))
    loss_worse, terms_worse = gfm_loss(worse, batch, "tt")
    assert terms_worse["alpha"].item() == pytest.approx(alpha.mean().item(), rel=1e-3)
    official, _ = gfm_loss(worse, batch, "tt", official=True)
    assert official.item() < loss_worse.item()


def test_rim_loss_has_three_rosta_groups_and_the_final_merge():
    alpha = torch.zeros(1, 1, 32, 32)
    alpha[..., 8:24, 8:24] = 1
    batch = batch_for(alpha)
    for form in ("ft", "bt"):
        batch[f"glance_{form}"] = (alpha >= 1).float() if form == "ft" else (alpha > 0).float()
        batch[f"focus_{form}"] = torch.zeros_like(alpha)
        batch[f"transition_{form}"] = torch.zeros_like(alpha)
    out = {"alpha": alpha}
    for form, n in (("tt", 3), ("ft", 2), ("bt", 2)):
        out.update({f"glance_logits_{form}": torch.zeros(1, n, 32, 32), f"focus_{form}": torch.zeros_like(alpha),
                    f"alpha_{form}": alpha})
    loss, terms = rim_loss(out, batch)
    assert len(terms) == 3 * 6 + 3
    # only the cross-entropies of the uniform logits remain: log 3 + 2 log 2
    assert loss.item() == pytest.approx(math.log(3) + 2 * math.log(2), abs=1e-3)
