import numpy as np
import pytest

from mattekit.engines import load_engine
from mattekit.engines.default import choose_glance, unsure_ratio
from mattekit.errors import UsageError
from mattekit.io import load_alpha, load_image, load_trimap


def blob(size, top, bottom, soft=0.0):
    prob = np.zeros((size, size), np.float32)
    prob[top:bottom, top:bottom] = 1.0
    if soft:
        prob[top - 10:top, top:bottom] = soft
    return prob


def test_unsure_ratio_counts_unsure_pixels_per_foreground_pixel():
    prob = np.array([[0.0, 0.5, 1.0, 1.0]])
    assert unsure_ratio(prob) == 0.5  # one unsure pixel, two above 0.5


def test_modnet_is_kept_when_the_glances_agree_or_it_is_as_confident():
    crisp = blob(100, 20, 80)
    assert choose_glance(crisp, crisp) == "modnet"
    unsure_modnet = blob(100, 20, 80, soft=0.5)
    assert choose_glance(unsure_modnet, crisp) == "modnet"  # IoU 1: they agree
    elsewhere = blob(100, 40, 60)
    assert choose_glance(unsure_modnet, elsewhere) == "u2netp"  # disagree, U2-Netp crisper
    assert choose_glance(crisp, blob(100, 40, 60, soft=0.5)) == "modnet"


def test_default_engine_refuses_a_single_weights_path():
    with pytest.raises(UsageError, match="pass --weights modnet=PATH and/or --weights u2netp=PATH"):
        load_engine("default", weights="/some/file.onnx")


@pytest.fixture(scope="module")
def engine():
    return load_engine("default")


def sad(alpha, truth):
    return np.abs(alpha - truth).sum() / 1000


def test_trimap_free_matte_of_a_real_photo(engine, shared_data):
    image = load_image(shared_data / "alphamatting/image/GT01.png")
    truth = load_alpha(shared_data / "alphamatting/alpha/GT01.png")
    matte = engine.predict(image)
    assert matte.alpha.dtype == np.float32 and matte.alpha.shape == truth.shape
    assert matte.foreground.shape == image.shape and 0 <= matte.foreground.min() <= matte.foreground.max() <= 1
    # MODNet alone scores 1.5 here and U2-Netp 2.6; the engine must do at least as well as the better one.
    assert sad(matte.alpha, truth) < 1.5


def test_trimap_matte_beats_closed_form(engine, shared_data):
    from pymatting import estimate_alpha_cf

    image = load_image(shared_data / "alphamatting/image/GT13.png")
    truth = load_alpha(shared_data / "alphamatting/alpha/GT13.png")
    trimap = load_trimap(shared_data / "alphamatting/trimap1/GT13.png", truth.shape)
    closed_form = estimate_alpha_cf(image / 255.0, trimap / 255.0)
    ours = engine.predict(image, trimap).alpha
    assert (ours[trimap == 255] == 1).all() and (ours[trimap == 0] == 0).all()
    assert sad(ours, truth) < 0.9 * sad(closed_form, truth)


def test_flat_and_subjectless_images_give_an_empty_matte(engine):
    for image in (np.zeros((64, 64, 3), np.uint8), np.full((48, 80, 3), 200, np.uint8)):
        matte = engine.predict(image)
        assert matte.alpha.shape == image.shape[:2] and matte.alpha.max() == 0


def test_modnet_input_is_bounded_whatever_the_aspect_ratio():
    from mattekit.engines.segmenters import Modnet

    assert Modnet.input_size(1080, 1620) == (512, 768)  # photos keep the 512 short side
    assert Modnet.input_size(2, 4000) == (32, 1024) and Modnet.input_size(4000, 2) == (1024, 32)
    assert Modnet.input_size(1, 1) == (512, 512)


@pytest.mark.parametrize("shape", [(1, 1), (2, 4000), (5, 3)])
def test_tiny_and_extreme_images_are_matted_at_their_size(engine, shape):
    image = np.random.default_rng(0).integers(0, 256, shape + (3,), np.uint8)
    matte = engine.predict(image)
    assert matte.alpha.shape == shape and matte.foreground.shape == shape + (3,)
    assert 0 <= matte.alpha.min() <= matte.alpha.max() <= 1
