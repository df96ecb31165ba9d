"""Interactive and instance metrics on hand-made cases whose answers are worked out in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import convolve

from mattekit.errors import InputError
from mattekit.evaluation.interactive import (
    imq,
    instance_similarities,
    iou,
    match_instances,
    mean_curve,
    noc,
    noc_summary,
)


def _block(shape=(8, 8), rows=slice(2, 6), cols=slice(2, 6), value=1.0) -> np.ndarray:
    matte = np.zeros(shape)
    matte[rows, cols] = value
    return matte


def test_iou_binarises_above_one_half():
    # pred -> [1, 1, 0, 0] (128/255 > 0.5, 127/255 < 0.5), gt -> [1, 0, 1, 0]: 1 shared pixel of 3.
    assert iou(np.array([[200, 128, 127, 0]], np.uint8), np.array([[255, 0, 255, 0]], np.uint8)) == pytest.approx(1 / 3)
    assert iou(np.array([[0.6, 0.2]]), np.array([[0.7, 0.9]])) == 0.5
    assert iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


def test_iou_rejects_mismatched_shapes():
    with pytest.raises(InputError, match=r"pred has shape \(2, 2\) but gt has shape \(2, 3\); they must match."):
        iou(np.zeros((2, 2)), np.zeros((2, 3)))


def test_noc_is_the_first_click_reaching_the_threshold_else_the_cap():
    ious = [0.5, 0.86, 0.91]
    assert noc(ious, 0.85) == 2 and noc(ious, 0.90) == 3 and noc(ious, 0.95) == 20
    assert noc([0.1] * 19 + [0.95], 0.9) == 20  # reached at the 20th click: 20, like never (RITM's quirk)
    assert noc([0.1] * 20 + [0.95], 0.9) == 20  # clicks past the cap do not count
    assert noc([0.8, 0.9], 0.9, clicks_per_round=3) == 6  # the second round of three clicks


def test_noc_summary_means_and_counts_samples_at_the_cap():
    samples = [[0.86, 0.92], [0.5, 0.6, 0.87], [0.2] * 19 + [0.95]]
    # NoC@85: 1, 3, 20 -> 8; NoC@90: 2, 20, 20 -> 14; at the cap: 1 and 2 samples.
    assert noc_summary(samples) == {"noc@85": 8.0, "nof@85": 1, "noc@90": 14.0, "nof@90": 2}
    with pytest.raises(InputError):
        noc_summary([])


def test_mean_curve_pads_each_sample_with_its_last_value():
    np.testing.assert_allclose(mean_curve([[0.2, 0.4, 0.9], [0.6]]), [0.4, 0.5, 0.75])
    np.testing.assert_allclose(mean_curve([[0.2, 0.4, 0.9], [0.6]], length=2), [0.4, 0.5])
    with pytest.raises(InputError):
        mean_curve([[0.5], []])


def test_hungarian_matching_pairs_instances_by_support_iou():
    gts = np.stack([_block(cols=slice(0, 3)), _block(cols=slice(5, 8))])
    preds = np.stack([_block(cols=slice(5, 7)), _block(cols=slice(0, 3))])
    rows, cols, ious = match_instances(preds, gts)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    np.testing.assert_allclose(ious, [8 / 12, 1.0], rtol=1e-8)  # 8 of 12 pixels; identical supports


def _dim_grad_energy(matte: np.ndarray, region: np.ndarray) -> float:
    """Σ_region |∇matte|² with gaussgradient.m's unit-norm 9×9 kernel, by plain 2-D convolution."""
    offsets = np.arange(-4, 5)
    gauss = np.exp(-(offsets**2) / (2 * 1.4**2))
    kernel = np.outer(gauss, -offsets * gauss)
    kernel /= np.sqrt(np.sum(kernel**2))
    gx, gy = convolve(matte, kernel, mode="nearest"), convolve(matte, kernel.T, mode="nearest")
    return float((gx**2 + gy**2)[region].sum())


def test_similarities_of_a_uniformly_dimmed_instance():
    gt = _block()
    pred = 0.9 * gt  # 16 pixels off by 0.1; the evaluation region is those 16 pixels, normalised by 16 + 1
    scores = instance_similarities(pred, gt)
    assert scores["mad"] == pytest.approx(1 - 10 * 16 * 0.1 / 17)
    assert scores["mse"] == pytest.approx(1 - 10 * 16 * 0.01 / 17)
    # |∇pred| = 0.9 |∇gt|, so the error is 0.01 Σ|∇gt|² over the region.
    assert scores["grad"] == pytest.approx(1 - min(10 * 0.01 * _dim_grad_energy(gt, gt > 0) / 17, 1))
    # Conn: the block leaves the component at threshold 1.0 (l = 0.9): d_pred = 0, d_gt = 0.1 < 0.15, φ = 1 both.
    assert scores["conn"] == 1.0


def test_imq_with_one_exact_match_one_false_and_one_missed_instance():
    gts = [_block(cols=slice(0, 3)), _block(cols=slice(5, 8))]
    preds = [gts[1].copy(), _block(rows=slice(6, 8), cols=slice(0, 8))]  # an exact copy and a stray strip
    result = imq([(preds, gts)])
    for t in (0.5, 0.75):
        # TP 1, FP 1, FN 1: every similarity of the exact pair is 1, the denominator 1 + 0.5 + 0.5.
        assert result[t]["rq"] == pytest.approx(0.5)
        assert result[t]["imq"] == pytest.approx(dict.fromkeys(("mad", "mse", "grad", "conn", "iou"), 0.5))
        assert result[t]["mq"] == pytest.approx(dict.fromkeys(("mad", "mse", "grad", "conn", "iou"), 1.0))


def test_imq_thresholds_decide_what_counts_as_a_true_positive():
    gt = _block(rows=slice(1, 6), cols=slice(2, 6))  # 20 pixels
    pred = _block(rows=slice(2, 6), cols=slice(2, 5))  # 12 of them: IoU 0.6
    result = imq([([pred], [gt]), ([], [gt])])  # the second image has no prediction: one more FN
    assert result[0.5]["rq"] == pytest.approx(1 / (1 + 0.5))
    assert result[0.5]["mq"]["iou"] == pytest.approx(0.6)
    assert result[0.75]["rq"] == 0.0 and result[0.75]["imq"]["mad"] == 0.0
    assert math.isnan(result[0.75]["mq"]["mad"])  # no true positive at 0.75


def test_imq_rejects_instances_of_different_sizes():
    with pytest.raises(InputError, match=r"pred instances are \(4, 4\) but gt instances are \(4, 5\)."):
        imq([([np.zeros((4, 4))], [np.zeros((4, 5))])])
    with pytest.raises(InputError, match=r"the gt instances of one image differ in size \(\(4, 4\), \(3, 3\)\)."):
        imq([([np.zeros((4, 4))], [np.zeros((4, 4)), np.zeros((3, 3))])])
