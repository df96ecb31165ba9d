import numpy as np
import pytest
import torch

from mattekit.matting.focus import solve_focus
from mattekit.matting.merge import merge_bt, merge_ft, merge_tt
from mattekit.matting.trimap import band_radius, trimap_from_probability, trimap_levels


def square(size, inner):
    prob = np.zeros((size, size), np.float32)
    prob[inner:-inner, inner:-inner] = 1.0
    return prob


def test_band_follows_image_size():
    small, large = (trimap_from_probability(square(n, n * 3 // 10), band_fraction=0.015) for n in (100, 400))
    width = lambda t: int(np.count_nonzero(t[t.shape[0] // 2] == 128))  # noqa: E731
    assert band_radius((100, 100), 0.015) == 2 and band_radius((400, 400), 0.015) == 6
    assert width(small) == 2 * (2 * 2) and width(large) == 2 * (2 * 6)


def test_band_takes_unsure_pixels_near_the_edge_only():
    prob = square(200, 60)
    prob[60:140, 55:60] = 0.4  # a soft fringe touching the edge
    prob[5:15, 5:15] = 0.3  # a faint blob far away
    trimap = trimap_from_probability(prob)
    assert (trimap[60:140, 55:60] == 128).all()
    assert (trimap[5:15, 5:15] == 0).all()
    assert (trimap[100, 100] == 255) and set(np.unique(trimap)) == {0, 128, 255}


def test_merge_rules_on_tensors_and_arrays():
    trimap = np.array([0, 128, 255], np.uint8)
    assert merge_tt(trimap_levels(trimap), np.array([0.7, 0.25, 0.1], np.float32)).tolist() == [0.0, 0.25, 1.0]
    glance, focus = torch.tensor([0.0, 0.5, 1.0]), torch.tensor([0.25, 0.25, 0.5])
    assert torch.equal(merge_tt(glance, focus), torch.tensor([0.0, 0.25, 1.0]))
    assert merge_ft(glance, focus).tolist() == [0.25, 0.75, 1.0]
    assert merge_bt(glance, focus).tolist() == [0.0, 0.25, 0.5]


def composite_scene(size=120):
    """A soft-edged disc over a two-colour background, with its true alpha."""
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(yy - size / 2, xx - size / 2)
    alpha = np.clip((size * 0.3 - radius) / 6 + 0.5, 0, 1)
    fg = np.array([230, 180, 40], np.float64)
    bg = np.where(xx[..., None] < size / 2, [20, 40, 160], [40, 120, 60])
    image = (alpha[..., None] * fg + (1 - alpha[..., None]) * bg).round().astype(np.uint8)
    trimap = np.full(alpha.shape, 128, np.uint8)
    trimap[alpha == 0] = 0
    trimap[alpha == 1] = 255
    return image, alpha, trimap


def test_focus_recovers_a_soft_edge_and_keeps_known_pixels():
    image, alpha, trimap = composite_scene()
    result = solve_focus(image, trimap)
    unknown = trimap == 128
    assert np.abs(result - alpha)[unknown].mean() < 0.02
    assert (result[trimap == 255] == 1).all() and (result[trimap == 0] == 0).all()


def test_focus_at_working_resolution_stays_close():
    image, alpha, trimap = composite_scene(240)
    result = solve_focus(image, trimap, work_pixels=240 * 240 // 4)
    assert result.shape == alpha.shape and result.dtype == np.float32
    assert np.abs(result - alpha)[trimap == 128].mean() < 0.04


def test_transition_without_any_foreground_is_background():
    trimap = np.zeros((20, 20), np.uint8)
    trimap[5:15, 5:15] = 128
    image = np.random.default_rng(1).integers(0, 255, (20, 20, 3), dtype=np.uint8)
    assert solve_focus(image, trimap).max() == 0


def test_guided_filter_in_bands_equals_the_whole_image_filter():
    import cv2

    from mattekit.matting.focus import guided_upsample

    rng = np.random.default_rng(3)
    image, alpha = rng.integers(0, 256, (300, 41, 3), np.uint8), rng.random((300, 41), np.float32)
    whole = cv2.ximgproc.guidedFilter(image, alpha, 4, 100.0)
    assert np.abs(guided_upsample(image, alpha, 4, 100.0, band_rows=37) - whole).max() < 1e-4


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1)])
def test_foreground_of_images_a_pixel_wide(shape):
    from mattekit.matting.foreground import estimate_foreground

    image = np.full(shape + (3,), 90, np.uint8)
    foreground = estimate_foreground(image, np.full(shape, 0.5, np.float32))
    assert foreground.shape == shape + (3,) and np.allclose(foreground, 90 / 255, atol=1e-3)


def test_laplacian_rows_equal_the_whole_laplacian_rows():
    from mattekit import kernels
    from mattekit.matting.focus import unknown_rows

    rng = np.random.default_rng(4)
    image = rng.random((30, 41, 3))
    image[:10, :12] = 0.3  # a flat patch: a nearly singular window covariance
    unknown = np.zeros((30, 41), bool)
    unknown[5:20, 0:15] = unknown[29, 40] = unknown[12, 25:38] = True  # on the image's edges too
    whole = kernels.prepare().cf_laplacian(image, 1e-7, 1, ~unknown).tocsr()[unknown.ravel()]
    rows = unknown_rows(image, unknown)
    assert rows.shape == whole.shape
    assert np.abs((rows - whole).toarray()).max() < 1e-6 * np.abs(whole).max()


def test_known_region_expansion_equals_it_on_the_whole_image():
    from mattekit import kernels
    from mattekit.matting.focus import expand_known

    kernels.prepare()
    from pymatting.alpha.estimate_alpha_sm import expand_trimap

    image, _, trimap = composite_scene(120)
    image = image.astype(np.float32) / 255
    trimap[:3, :40] = 128  # a transition at the border, far from the other
    levels = (trimap / 255.0).astype(np.float32)
    whole = levels.copy()
    expand_trimap(whole, levels, np.ascontiguousarray(image), 10, 0.02)
    expected = np.select([whole == 1.0, whole == 0.0], [255, 0], 128)
    expanded = expand_known(image, trimap)
    assert np.array_equal(expanded, expected) and (expanded != trimap).any()
