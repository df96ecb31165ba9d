"""GFM training samples: the crop-first order matches the official order, and real photos give exact targets."""

from pathlib import Path

import numpy as np
import pytest

from mattekit.data.composition import Recipe
from mattekit.data.gfm_samples import composite_sample, original_sample
from mattekit.io import load_alpha, load_image
from mattekit.matting.merge import MERGE_RULES

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def real(name="GT04"):
    folder = DATA / "alphamatting"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return load_image(folder / "image" / f"{name}.png"), load_alpha(folder / "alpha" / f"{name}.png")


def test_crop_first_equals_the_official_order_up_to_resampling():
    folder = DATA / "animals-pseudo"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    image = load_image(folder / "image" / "sample3.jpg")
    alpha8 = np.round(load_alpha(folder / "alpha" / "sample3.png") * 255).astype(np.uint8)
    bg = load_image(DATA / "backgrounds" / "path.jpg")
    sizes = set()
    for seed in range(4):
        recipe = Recipe(False, (20, 40, 60)[seed % 3], None)
        fast = composite_sample(image, alpha8, bg, recipe, np.random.default_rng(seed), ("tt", "bt"))
        slow = composite_sample(image, alpha8, bg, recipe, np.random.default_rng(seed), ("tt", "bt"), order="full")
        assert fast["draws"] == slow["draws"]
        sizes.add(fast["draws"]["crop_size"])
        assert np.abs(fast["alpha"] - slow["alpha"]).max() <= 1 / 255
        assert np.abs(fast["image"] - slow["image"]).mean() < 0.005  # under 1.3 grey levels on average
        for rosta in ("tt", "bt"):
            band_fast, band_slow = fast[f"transition_{rosta}"].mean(), slow[f"transition_{rosta}"].mean()
            assert abs(band_fast - band_slow) <= 0.1 * band_slow + 0.01  # scaled kernels keep the band's width
    assert 960 in sizes and 320 in sizes


def test_original_sample_of_a_real_photo_has_exact_targets():
    image, alpha = real("GT01")
    fg_colours = image  # any uint8 colours will do for the shapes
    for seed in range(4):
        sample = original_sample(image, alpha, np.random.default_rng(seed), ("tt", "ft", "bt"), fg=fg_colours)
        assert sample["image"].shape == sample["fg"].shape == (320, 320, 3) and "bg" not in sample
        for rosta in ("tt", "ft", "bt"):
            merged = MERGE_RULES[rosta](sample[f"glance_{rosta}"], sample[f"focus_{rosta}"])
            assert np.array_equal(merged, sample["alpha"])
        as_uint8 = original_sample(image, np.round(alpha * 255).astype(np.uint8), np.random.default_rng(seed), "tt")
        assert np.abs(as_uint8["alpha"] - sample["alpha"]).max() <= 1 / 255 + 1e-6
        assert all(v.dtype == np.float32 for k, v in sample.items() if k != "draws")
