"""Matting metrics on cases small enough to compute by hand, the filters against scipy, and input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import convolve, gaussian_filter

from mattekit.errors import InputError, UsageError
from mattekit.evaluation.connectivity import first_exit_levels
from mattekit.evaluation.gradient import (
    DIM_DERIV,
    DIM_SMOOTH,
    dim_gradient_magnitude,
    gfm_gradient_error,
    gfm_gradient_magnitude,
)
from mattekit.evaluation.metrics import DIM_KEYS, GFM_KEYS, GFM_TRIMAP_KEYS, evaluate
from mattekit.metrics import evaluate as public_evaluate

GT_BLOCK = np.zeros((4, 4), np.uint8)
GT_BLOCK[1:3, 1:3] = 255


def _soft_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth 8-bit gt with a blob, a noisy prediction of it, and a trimap around its soft edge."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:48, :64]
    gt = np.clip(255 * (1.4 - np.hypot(yy - 24, xx - 30) / 12), 0, 255).astype(np.uint8)
    pred = np.clip(gt.astype(int) + rng.integers(-40, 41, gt.shape), 0, 255).astype(np.uint8)
    trimap = np.where(gt == 255, 255, np.where(gt == 0, 0, 128)).astype(np.uint8)
    trimap[20:23, 5:8] = 255  # known-foreground pixels whose gt is 0: SAD-TRAN differs from the unknown-only SAD
    return pred, gt, trimap


def test_public_name_is_the_evaluation_function():
    assert public_evaluate is evaluate


def test_whole_image_sums_by_hand():
    scores = evaluate(np.zeros((4, 4), np.uint8), GT_BLOCK)
    assert list(scores) == list(GFM_KEYS) == ["sad", "mse", "mad", "grad", "conn"]
    assert scores["sad"] == pytest.approx(4 / 1000) and scores["mse"] == 0.25 and scores["mad"] == 0.25
    assert scores["conn"] == 0.0  # GFM skips the empty thresholds: l stays 1 and every φ is 1


def test_trimap_regions_and_the_forced_copy_by_hand():
    trimap = np.array([[255, 0, 128]], np.uint8)
    gt = np.array([[200, 55, 100]], np.uint8)
    pred = np.array([[0, 255, 90]], np.uint8)
    scores = evaluate(pred, gt, trimap)
    assert list(scores) == ["sad", "mse", "mad", "sad_tran", "mse_tran", "mad_tran", "sad_fg", "sad_bg", "grad", "conn"]
    assert list(scores) == [*GFM_KEYS[:3], *GFM_TRIMAP_KEYS, *GFM_KEYS[3:]]
    assert scores["sad"] == pytest.approx((200 + 200 + 10) / 255 / 1000)
    assert scores["sad_fg"] == pytest.approx(200 / 255 / 1000) and scores["sad_bg"] == pytest.approx(200 / 255 / 1000)
    # pred is forced to 255 on trimap 255 and to 0 on trimap 0, then the whole image is summed, /|unknown| = 1.
    assert scores["sad_tran"] == pytest.approx((55 + 55 + 10) / 255 / 1000)
    assert scores["mad_tran"] == pytest.approx((55 + 55 + 10) / 255)
    assert scores["mse_tran"] == pytest.approx((55**2 + 55**2 + 10**2) / 255**2)


def test_dim_protocol_scores_only_the_unknown_region():
    trimap = np.array([[255, 0, 128, 128]], np.uint8)
    gt = np.array([[200, 55, 100, 0]], np.uint8)
    pred = np.array([[0, 255, 90, 30]], np.uint8)
    scores = evaluate(pred, gt, trimap, protocol="dim")
    assert list(scores) == list(DIM_KEYS) == ["sad", "mse", "grad", "conn"]
    assert scores["sad"] == pytest.approx((10 + 30) / 255 / 1000, rel=1e-6)
    assert scores["mse"] == pytest.approx((10**2 + 30**2) / 255**2 / 2, rel=1e-6)


def test_conn_of_an_all_zero_prediction_gfm_skips_dim_assigns_the_previous_threshold():
    gt, pred, trimap = np.full((1, 2), 255, np.uint8), np.zeros((1, 2), np.uint8), np.full((1, 2), 128, np.uint8)
    assert evaluate(pred, gt, trimap)["conn"] == 0.0
    # DIM: the 0.1 step is empty, so l = 0 everywhere; φ_pred = 1, φ_gt = 1 - (1 - 0) = 0, two pixels.
    assert evaluate(pred, gt, trimap, protocol="dim")["conn"] == pytest.approx(2 / 1000)


def test_conn_threshold_06_comes_from_np_arange():
    gt, trimap = np.full((1, 2), 255, np.uint8), np.full((1, 2), 128, np.uint8)
    pred = np.array([[255, 153]], np.uint8)  # 153/255 == 0.6 < np.arange(0, 1.1, 0.1)[6] == 0.6000000000000001
    # GFM: the 153 pixel leaves the component at the 0.6 step, so l = 0.5: φ_pred = 1, φ_gt = 1 - 0.5.
    assert evaluate(pred, gt, trimap)["conn"] == pytest.approx(0.5 / 1000)
    # DIM counts 153 at 0.6 (single precision) and leaves at 0.7: l = 0.6, φ_pred = 1, φ_gt = 1 - 0.4.
    assert evaluate(pred, gt, trimap, protocol="dim")["conn"] == pytest.approx(0.4 / 1000, rel=1e-6)


def test_level_sweep_ties_follow_the_reference_scan_order():
    reached = np.array([[0, 1], [1, 0]], np.uint8)
    row_major = first_exit_levels(reached, steps=1, skip_empty=True, column_major=False)
    column_major = first_exit_levels(reached, steps=1, skip_empty=True, column_major=True)
    assert row_major.tolist() == [[0, 1], [0, 0]] and column_major.tolist() == [[0, 0], [1, 0]]


def test_level_sweep_ends_when_the_largest_component_moves_elsewhere():
    reached = np.array([[1, 1, 1, 0, 2]], np.uint8)  # step 2 keeps only the last pixel, outside Ω_1
    assert first_exit_levels(reached, steps=2, skip_empty=True, column_major=False).tolist() == [[1, 1, 1, 0, 0]]


def test_gfm_gradient_is_scipys_gaussian_filter_bit_for_bit():
    x = np.random.default_rng(1).random((37, 53))
    rows = gaussian_filter(x, sigma=1.4, order=[1, 0], output=np.float32)
    cols = gaussian_filter(x, sigma=1.4, order=[0, 1], output=np.float32)
    assert np.array_equal(gfm_gradient_magnitude(x), np.sqrt(rows**2 + cols**2))


CHANGED_BOXES = [(slice(20, 24), slice(30, 33)), (slice(0, 2), slice(50, 53)), (slice(0, 37), slice(0, 1))]


@pytest.mark.parametrize("rows, cols", CHANGED_BOXES)
def test_gfm_gradient_error_on_the_changed_box_is_the_whole_image_sum_bit_for_bit(rows, cols):
    g = gaussian_filter(np.random.default_rng(2).random((37, 53)), 2.0)
    p = g.copy()
    p[rows, cols] = 1.0  # a change in the middle, at a corner's edge, along a whole border
    errors = np.square(gfm_gradient_magnitude(p) - gfm_gradient_magnitude(g))  # whole image, float32
    assert gfm_gradient_error(p, g) == np.sum(errors)  # bit for bit, float32 summation order included
    assert gfm_gradient_error(g, g.copy()) == 0


def _gaussgradient_magnitude(x: np.ndarray) -> np.ndarray:
    """|∇x| with gaussgradient.m's 9x9 kernel built in 2-D and 'replicate' borders, by plain convolution."""
    offsets = np.arange(-4, 5)
    gauss = np.exp(-(offsets**2) / (2 * 1.4**2)) / (1.4 * math.sqrt(2 * math.pi))
    kernel = np.outer(gauss, -offsets * gauss / 1.4**2)  # hx(i, j) = gauss(i) * dgauss(j), as in gaussgradient.m
    kernel /= np.sqrt(np.sum(kernel**2))
    return np.hypot(convolve(x, kernel, mode="nearest"), convolve(x, kernel.T, mode="nearest"))


def test_dim_gradient_is_the_unit_norm_9x9_kernel_with_replicated_borders():
    x = np.random.default_rng(2).random((30, 41))
    assert len(DIM_SMOOTH) == len(DIM_DERIV) == 9
    np.testing.assert_allclose(dim_gradient_magnitude(x), _gaussgradient_magnitude(x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("island", [(slice(20, 26), slice(25, 33)), (slice(0, 5), slice(58, 64))])
def test_dim_grad_of_a_small_unknown_region_is_the_whole_image_formula_there(island):
    pred, gt, _ = _soft_pair()
    trimap = np.zeros_like(gt)
    trimap[island] = 128  # inside the image, then touching its top-right corner
    mat2gray = [(m - m.min()) / (m.max() - m.min()) for m in (pred.astype(float), gt.astype(float))]
    amp = [_gaussgradient_magnitude(m) for m in mat2gray]
    expected = np.sum(np.square(amp[0] - amp[1])[island]) / 1000
    assert evaluate(pred, gt, trimap, protocol="dim")["grad"] == pytest.approx(expected, rel=1e-6)


def test_dim_grad_normalises_each_matte_with_mat2gray_gfm_does_not():
    gt = np.zeros((12, 12), np.uint8)
    gt[3:9, 4:10] = 200
    pred = (gt // 2).astype(np.uint8)  # the same shape at half the contrast
    trimap = np.full(gt.shape, 128, np.uint8)
    assert evaluate(pred, gt, trimap, protocol="dim")["grad"] == 0.0
    assert evaluate(pred, gt, trimap)["grad"] > 0.0


def test_identical_mattes_score_zero_everywhere_except_the_forced_copy():
    pred, gt, trimap = _soft_pair()
    gfm = evaluate(gt, gt, trimap)
    assert gfm.pop("sad_tran") == pytest.approx(9 / 1000)  # 9 pixels of gt 0 in trimap 255, forced to 1
    assert gfm.pop("mse_tran") == gfm.pop("mad_tran") > 0
    assert set(gfm.values()) == set(evaluate(gt, gt, trimap, protocol="dim").values()) == {0.0}


def test_float_inputs_score_like_their_8bit_values():
    pred, gt, trimap = _soft_pair()
    from_uint8 = evaluate(pred, gt, trimap)
    from_float64 = evaluate(pred / 255.0, gt / 255.0, trimap)  # the per-pixel path
    assert from_float64 == pytest.approx(from_uint8, rel=1e-12, abs=1e-15)
    from_float32 = evaluate(pred.astype(np.float32) / 255, gt.astype(np.float32) / 255, trimap)
    assert from_float32 == from_uint8  # float32 on the 8-bit grid is read as those 8-bit values
    assert evaluate(pred / 255.0, gt / 255.0, trimap, "dim") == pytest.approx(evaluate(pred, gt, trimap, "dim"))


def test_off_grid_floats_are_scored_as_given():
    gt = np.array([[0.0, 1.0]], np.float32)
    pred = np.array([[0.25, 0.5]], np.float32)
    assert evaluate(pred, gt)["sad"] == pytest.approx(0.75 / 1000)


def test_no_unknown_pixels_gives_nan_for_the_per_unknown_means():
    trimap = np.where(GT_BLOCK == 255, 255, 0).astype(np.uint8)
    gfm = evaluate(np.zeros((4, 4), np.uint8), GT_BLOCK, trimap)
    dim = evaluate(np.zeros((4, 4), np.uint8), GT_BLOCK, trimap, protocol="dim")
    assert math.isnan(gfm["mse_tran"]) and math.isnan(gfm["mad_tran"]) and gfm["sad_tran"] == 0.0
    assert math.isnan(dim["mse"]) and dim["sad"] == 0.0 and dim["conn"] == 0.0


Z = np.zeros((2, 2))
BAD_INPUTS = [
    (np.zeros((2, 3)), Z, None, "gfm", "pred has shape (2, 3) but gt has shape (2, 2); they must match."),
    (np.zeros((2, 2, 3)), Z, None, "gfm", "pred must be a non-empty 2-D array (H, W), not of shape (2, 2, 3)."),
    (Z.astype(np.int16), Z, None, "gfm", "pred must be uint8 (0-255) or float in [0, 1], not int16."),
    (Z, Z + 2, None, "gfm", "gt holds values outside [0, 1] (from 2 to 2); pass floats in [0, 1]."),
    (Z + np.nan, Z, None, "gfm", "pred holds values outside [0, 1] (from nan to nan); pass floats in [0, 1]."),
    (  # float32 on the 8-bit grid but for one NaN: not read as 8-bit
        np.array([[0.0, np.nan], [1.0, 0.0]], np.float32), Z, None, "gfm",
        "pred holds values outside [0, 1] (from nan to nan); pass floats in [0, 1].",
    ),
    (Z, Z, np.full((2, 2), 100, np.uint8), "gfm", "trimap holds the value 100; a trimap holds only 0, 128 and 255."),
    (Z, Z, Z, "gfm", "trimap must be uint8 with values 0, 128 and 255, not float64."),
    (
        Z, Z, np.zeros((3, 2), np.uint8), "gfm",
        "trimap has shape (3, 2) but pred and gt have shape (2, 2); they must match.",
    ),
    (Z, Z, None, "dim", "the dim protocol scores the trimap's unknown region, so it needs a trimap."),
]


@pytest.mark.parametrize(("pred", "gt", "trimap", "protocol", "message"), BAD_INPUTS)
def test_bad_input_is_one_clear_sentence(pred, gt, trimap, protocol, message):
    with pytest.raises(InputError) as caught:
        evaluate(pred, gt, trimap, protocol=protocol)
    assert str(caught.value) == message


def test_unknown_protocol_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown metrics protocol 'sad'; choose 'gfm' or 'dim'."):
        evaluate(np.zeros((2, 2)), np.zeros((2, 2)), protocol="sad")
