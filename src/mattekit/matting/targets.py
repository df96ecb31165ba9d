"""GFM training targets: the glance and focus maps of each RoSTa, made so that the merge rule gives back alpha.

GFM (Li et al., "Bridging Composite and Real", IJCV 2022, arXiv:2010.16188, §3.4) builds each RoSTa from the
ground-truth alpha with an elliptical kernel:
- TT: trimap from dilating ``alpha > 0`` and eroding ``alpha == 1`` (kernel 25); glance = trimap with levels
  0 / 0.5 / 1, focus = alpha in the transition (0 elsewhere).
- FT: glance = the core, ``alpha == 1`` eroded (kernel 50); focus = alpha − core (alpha outside the core).
- BT: glance = the region, ``alpha > 0`` dilated (kernel 50); focus = region − alpha (1 − alpha inside it).

``merge_tt/merge_ft/merge_bt`` of ``mattekit.matting.merge`` applied to (glance, focus) give back ``alpha``
exactly, in float32. The official code pairs FT with the dilation and BT with the bare mask, which its own merge
rules cannot undo (its ``core/data.py``, github.com/JizhiziLi/GFM; docs/gfm.md); this module does not. To make
the BT subtraction exact, the returned ``alpha`` is alpha rounded to a multiple of 2⁻²⁴ (it moves by at most
3·10⁻⁸): on that grid ``1 − (1 − alpha)`` is exact in float32.

``transition`` is where the focus decoder's output shapes the merge and its loss is taken: the trimap's unknown
band (TT), the non-zero alpha outside the core (FT), the region where alpha is below 1 (BT).

Example:
    >>> import numpy as np
    >>> from mattekit.matting.merge import merge_bt
    >>> alpha = np.zeros((60, 60), np.float32); alpha[20:40, 20:40] = 1; alpha[20:40, 19] = 0.3
    >>> t = rosta_targets(alpha, "bt")
    >>> bool((merge_bt(t["glance"], t["focus"]) == t["alpha"]).all()), float(t["focus"][30, 19])
    (True, 0.699999988079071)
"""

from __future__ import annotations

import cv2
import numpy as np

from mattekit.errors import UsageError

ROSTAS = ("tt", "ft", "bt")
KERNELS = {"tt": 25, "ft": 50, "bt": 50}
_GRID = np.float32(2.0**24)


def ellipse(size: int) -> np.ndarray:
    """The ``size``×``size`` elliptical structuring element of OpenCV (the official code's kernel)."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def _check_rosta(rosta: str) -> str:
    if rosta not in ROSTAS:
        raise UsageError(f"unknown RoSTa {rosta!r}; choose one of: {', '.join(ROSTAS)}.")
    return rosta


def glance_map(alpha: np.ndarray, rosta: str, kernel: int | None = None) -> np.ndarray:
    """The glance target of ``rosta`` for ``alpha`` (float HxW in [0, 1]) as float32 in the merge rule's form.

    TT gives levels 0 / 0.5 / 1, FT the eroded core (0/1), BT the dilated region (0/1). ``kernel`` defaults to the
    paper's size (25 for TT, 50 for FT and BT); pass a smaller one for an alpha that was downscaled.

    >>> a = np.zeros((9, 9), np.float32); a[3:6, 3:6] = 1
    >>> glance_map(a, "tt", kernel=3)[4].tolist()
    [0.0, 0.0, 0.5, 0.5, 1.0, 0.5, 0.5, 0.0, 0.0]
    """
    size = max(1, int(kernel if kernel is not None else KERNELS[_check_rosta(rosta)]))
    element = ellipse(size)
    if rosta in ("tt", "ft"):
        core = cv2.erode((alpha >= 1).astype(np.uint8), element) > 0
    if rosta in ("tt", "bt"):
        region = cv2.dilate((alpha > 0).astype(np.uint8), element) > 0
    if rosta == "ft":
        return core.astype(np.float32)
    if rosta == "bt":
        return region.astype(np.float32)
    return np.where(core, 1.0, np.where(region, 0.5, 0.0)).astype(np.float32)


def split(alpha: np.ndarray, glance: np.ndarray, rosta: str) -> dict[str, np.ndarray]:
    """Targets from ``alpha`` and a glance map of ``rosta`` (e.g. one resized with nearest neighbour).

    The glance is first made consistent with ``alpha`` (a certain-foreground pixel needs alpha 1, a background one
    alpha 0), so the merge is exact whatever resampling produced the two. Returns float32 HxW maps ``alpha``
    (on the 2⁻²⁴ grid), ``glance``, ``focus`` and ``transition`` (0/1).
    """
    _check_rosta(rosta)
    alpha = np.round(np.clip(np.asarray(alpha, np.float32), 0, 1) * _GRID) / _GRID
    glance = np.asarray(glance, np.float32)
    if rosta == "tt":
        known_fg = (glance == 1) & (alpha == 1)
        known_bg = ((glance == 0) & (alpha == 0)) & ~known_fg
        transition = ~(known_fg | known_bg)
        glance = np.where(known_fg, 1.0, np.where(transition, 0.5, 0.0)).astype(np.float32)
        focus = np.where(transition, alpha, 0.0)
    elif rosta == "ft":
        core = (glance == 1) & (alpha == 1)
        glance = core.astype(np.float32)
        focus = alpha - glance
        transition = (alpha > 0) & ~core
    else:
        region = (glance == 1) | (alpha > 0)
        glance = region.astype(np.float32)
        focus = glance - alpha
        transition = region & (alpha < 1)
    return {"alpha": alpha, "glance": glance, "focus": focus.astype(np.float32),
            "transition": transition.astype(np.float32)}


def rosta_targets(alpha: np.ndarray, rosta: str, kernel: int | None = None) -> dict[str, np.ndarray]:
    """``split(alpha, glance_map(alpha, rosta, kernel), rosta)``: the training targets of one RoSTa."""
    return split(alpha, glance_map(alpha, rosta, kernel), rosta)
