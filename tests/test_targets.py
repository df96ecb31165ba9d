"""GFM training targets: the merge rule gives back alpha exactly, on real hand-made alphas."""

from pathlib import Path

import numpy as np
import pytest

from mattekit.io import load_alpha
from mattekit.matting.merge import MERGE_RULES
from mattekit.matting.targets import glance_map, rosta_targets, split

ALPHAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphamatting" / "alpha"


def real_alphas():
    if not ALPHAS.is_dir():
        pytest.skip(f"{ALPHAS} is absent: the real alphamatting.com alphas are needed")
    return [load_alpha(p) for p in sorted(ALPHAS.glob("*.png"))[:6]]


@pytest.mark.parametrize("rosta", ["tt", "ft", "bt"])
def test_merge_of_targets_gives_back_alpha_on_real_alphas(rosta):
    for alpha in real_alphas():
        targets = rosta_targets(alpha, rosta)
        merged = MERGE_RULES[rosta](targets["glance"], targets["focus"])
        assert merged.dtype == np.float32
        assert np.array_equal(merged, targets["alpha"])
        assert np.abs(targets["alpha"] - alpha).max() <= 2.0**-25
        assert targets["focus"].min() >= 0 and targets["focus"].max() <= 1


def test_the_official_pairing_would_not_merge_back():
    # The official FT pairs the glance "dilation" with the focus alpha − erosion: the merge fills the whole band.
    alpha = real_alphas()[0]
    official_glance = glance_map(alpha, "bt")
    official_focus = rosta_targets(alpha, "ft")["focus"]
    assert np.abs(MERGE_RULES["ft"](official_glance, official_focus) - alpha).max() > 0.5


def test_paper_kernels_shape_the_maps():
    alpha = np.zeros((200, 200), np.float32)
    alpha[50:150, 50:150] = 1.0
    tt = glance_map(alpha, "tt")  # 25x25 ellipse: 12 pixels each side of the edge
    assert tt[100, 62] == 1.0 and tt[100, 61] == 0.5 and tt[100, 38] == 0.5 and tt[100, 37] == 0.0
    ft = glance_map(alpha, "ft")  # the 50x50 ellipse's anchor sits at 25: 25 pixels on one side, 24 on the other
    assert ft[100, 75] == 1.0 and ft[100, 74] == 0.0 and ft[100, 125] == 1.0 and ft[100, 126] == 0.0
    bt = glance_map(alpha, "bt")
    assert bt[100, 26] == 1.0 and bt[100, 25] == 0.0 and bt[100, 174] == 1.0 and bt[100, 175] == 0.0
    assert set(np.unique(tt)) == {0.0, 0.5, 1.0}


def test_split_repairs_a_glance_that_disagrees_with_alpha():
    # A nearest-resized glance can claim certainty where the resized alpha is soft: the merge must still hold.
    alpha = np.array([[0.0, 0.3, 1.0, 1.0]], np.float32)
    for rosta, glance in (("tt", [[0.0, 1.0, 0.0, 1.0]]), ("ft", [[1.0, 1.0, 0.0, 1.0]]),
                          ("bt", [[0.0, 0.0, 1.0, 0.0]])):
        targets = split(alpha, np.array(glance, np.float32), rosta)
        assert np.array_equal(MERGE_RULES[rosta](targets["glance"], targets["focus"]), targets["alpha"])
    assert split(alpha, np.array([[0, 1, 0, 1]], np.float32), "tt")["transition"].tolist() == [[0, 1, 1, 0]]
