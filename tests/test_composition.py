"""Composition (Eq. 1), the RSSN draws, the noise, and the crop-first background geometry."""

import numpy as np
from scipy.stats import chisquare

from mattekit.data.comp_track import sample_seed
from mattekit.data.composition import (BLUR_KERNELS, Recipe, alpha_blend, background_window, compose_full,
                                       draw_recipe, estimate_colours, fit_background)
from mattekit.data.gfm_samples import composite_sample
from mattekit.data.transforms import Window, apply_window


def random_scene(rng, height=90, width=120):
    fg = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    bg = rng.integers(0, 256, (height + 30, width + 50, 3), dtype=np.uint8)
    alpha = rng.random((height, width)).astype(np.float32)
    alpha[:, :20] = 0
    alpha[:, -20:] = 1
    return fg, alpha, bg


def test_composite_equation_holds_exactly_for_what_is_returned():
    rng = np.random.default_rng(3)
    fg, alpha, bg = random_scene(rng)
    plain = compose_full(fg, alpha, bg, Recipe(), rng)
    a = alpha[..., None]
    assert np.array_equal(plain["image"], a * plain["fg"] + (np.float32(1) - a) * plain["bg"])
    assert np.array_equal(plain["fg"], fg.astype(np.float32))
    assert np.array_equal(plain["bg"], fit_background(bg, alpha.shape).astype(np.float32))
    # alpha 0 and 1 give back the background and the foreground themselves
    assert np.array_equal(plain["image"][:, :20], plain["bg"][:, :20])
    assert np.array_equal(plain["image"][:, -20:], plain["fg"][:, -20:])
    # with blur and noise (clipped where it leaves [0, 255]), Eq. 1 still holds exactly for what is returned
    noisy = compose_full(fg, alpha, bg, Recipe(False, 20, 10.0), rng)
    assert np.array_equal(noisy["image"], a * noisy["fg"] + (np.float32(1) - a) * noisy["bg"])
    assert noisy["fg"].min() == 0 and noisy["fg"].max() == 255  # random colours + noise: clipping happened
    assert 9 < (noisy["fg"] - fg)[(fg > 40) & (fg < 215)].std() < 11


def test_alpha_blend_matches_float64_arithmetic_and_clips():
    rng = np.random.default_rng(0)
    fg, alpha, bg = random_scene(rng)
    bg = bg[:90, :120]
    exact = alpha.astype(np.float64)[..., None] * fg + (1 - alpha.astype(np.float64)[..., None]) * bg
    assert np.abs(alpha_blend(fg, bg, alpha) - exact).max() < 1e-4
    assert alpha_blend(np.full((1, 1, 3), 300.0), np.zeros((1, 1, 3)), np.ones((1, 1))).max() == 255.0


def test_each_rssn_step_fires_half_the_time_and_blur_sides_are_uniform():
    recipes = [draw_recipe(np.random.default_rng(sample_seed(0, 0, i)), "rssn") for i in range(2000)]
    denoise = np.array([r.denoise for r in recipes])
    blur = np.array([r.blur_kernel is not None for r in recipes])
    noise = np.array([r.noise_sigma is not None for r in recipes])
    for fired in (denoise, blur, noise):
        assert abs(fired.mean() - 0.5) <= 0.03
    for a, b in ((denoise, blur), (denoise, noise), (blur, noise)):
        assert abs((a & b).mean() - 0.25) <= 0.03  # the steps are drawn independently
    sides = [r.blur_kernel for r in recipes if r.blur_kernel is not None]
    counts = [sides.count(k) for k in BLUR_KERNELS]
    assert set(sides) == set(BLUR_KERNELS) and chisquare(counts).pvalue > 0.01
    assert {r.noise_sigma for r in recipes} == {None, 10.0}
    assert draw_recipe(np.random.default_rng(0), "coco") == Recipe() == draw_recipe(np.random.default_rng(0), "bg20k")


def flat(value, size=400):
    return np.full((size, size, 3), value, np.uint8)


def test_noise_sigma_is_ten_on_flat_grey_and_nothing_wraps():
    alpha = np.zeros((400, 400), np.uint8)
    alpha[:, 200:] = 255
    recipe = Recipe(False, None, 10.0)
    sample = composite_sample(flat(128), alpha, flat(128), recipe, np.random.default_rng(1), "tt")
    measured = (sample["image"] * 255 - 128).std()
    assert abs(measured - 10.0) <= 0.3
    bright = composite_sample(flat(250), alpha, flat(250), recipe, np.random.default_rng(2), "tt")["image"] * 255
    dark = composite_sample(flat(5), alpha, flat(5), recipe, np.random.default_rng(2), "tt")["image"] * 255
    assert bright.max() <= 255.0 + 1e-3 and bright.min() > 180  # a wrap-around would put pixels near 0
    assert dark.min() >= 0.0 and dark.max() < 75  # and here near 255
    assert 0.25 < np.mean(bright > 254.99) < 0.37  # P(n > 5) = 0.31: clipped to white, not wrapped


def test_crop_first_background_is_the_fitted_background_seen_through_the_window():
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:700, 0:1100]
    bg = np.stack([(xx // 3) % 256, (yy // 2) % 256, ((xx + yy) // 5) % 256], -1).astype(np.uint8)
    shape = (600, 800)
    for window in (Window(40, 100, 480, False, False), Window(120, 320, 480, True, False),
                   Window(0, 0, 320, False, False)):
        direct = background_window(bg, shape, window)
        reference = apply_window(fit_background(bg, shape), window)
        assert direct.shape == (320, 320, 3)
        assert np.abs(direct.astype(int) - reference.astype(int)).mean() < 0.6  # 6 px off gives over 1.0
    blurred = background_window(rng.integers(0, 256, (700, 1100, 3), dtype=np.uint8), shape,
                                Window(40, 100, 640, False, False), blur_kernel=40)
    assert blurred.std() < 20  # a 40-pixel box filter (20 at the output) flattens uniform noise


def test_colour_estimation_reproduces_a_known_composite():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:40] / 40.0
    fg = np.stack([0.9 - 0.2 * yy, 0.3 + 0 * xx, 0.2 + 0.3 * xx], -1)
    bg = np.stack([0.1 + 0 * xx, 0.6 * yy, 0.8 - 0.3 * xx], -1)
    alpha = np.clip(rng.random((40, 40)) * 1.4 - 0.2, 0, 1)
    image = np.round((alpha[..., None] * fg + (1 - alpha[..., None]) * bg) * 255).astype(np.uint8)
    for method in ("cf", "ml"):
        est_fg, est_bg = estimate_colours(image, alpha, method)
        soft = (alpha > 0.3) & (alpha < 0.7)
        assert np.abs(est_fg[soft] / 255.0 - fg[soft]).mean() < 0.05
        assert np.abs(est_bg[soft] / 255.0 - bg[soft]).mean() < 0.05
