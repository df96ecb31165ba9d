"""The default engine: GFM's glance-focus-merge decomposition built from pretrained parts, offline, on the CPU.

- glance: a soft foreground probability from MODNet (a portrait matting network) or U²-Netp (a salient object
  segmenter). MODNet is the stronger of the two when it has found the subject; when the two disagree (their
  masks overlap with IoU < ``agree_iou``) the one that is clearly more confident wins, confidence being the share
  of unsure pixels (0.05 < p < 0.95) relative to the foreground area. U²-Netp must be clearly better
  (``prefer_margin``) to displace MODNet. When they overlap with IoU < ``lost_iou``, they have not found one
  subject: the chosen map is the alpha as it is, since a trimap and focus would only sharpen a guess. The
  thresholds were chosen by leave-one-set-out validation on four sets (``docs/default-engine.md``).
- trimap: a TT trimap whose band follows the image size and the glance's unsure pixels
  (``mattekit.matting.trimap``).
- focus: the closed-form matting Laplacian with a sampling data term inside the band, at a working resolution,
  upsampled with a guided filter (``mattekit.matting.focus``); merge: the TT rule.
- foreground colours: pymatting's multi-level estimation (``mattekit.matting.foreground``), so a cut-out carries
  no colour halo.
With a user trimap, the trimap is the glance and only focus runs.

Memory is bounded whatever the size or aspect ratio: the segmenters see at most 1024 pixels a side, the focus and
the foreground estimation work at ``work_pixels`` and upsample in bands; a 12-megapixel photo peaks at about
1.3 GB (``bench/robustness.py``). Images under ``MIN_SIDE`` pixels a side (1x1, 1xN, Nx1) are matted on a copy
with their border pixels repeated up to that size, then cropped back.

Example:
    >>> from skimage.data import chelsea                                     # doctest: +SKIP
    >>> matte = DefaultEngine().predict(chelsea())                           # doctest: +SKIP
    >>> matte.alpha.shape, matte.cutout().shape                              # doctest: +SKIP
    ((300, 451), (300, 451, 4))
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from mattekit.budget import GIB, Budget
from mattekit.engines.segmenters import Modnet, U2Netp
from mattekit.errors import UsageError
from mattekit.matte import Matte
from mattekit.matting.focus import solve_focus
from mattekit.matting.foreground import estimate_foreground
from mattekit.matting.merge import merge_tt
from mattekit.matting.trimap import BAND_FRACTION, trimap_from_probability

SEGMENTERS = ("modnet", "u2netp")
MIN_SIDE = 8  # smaller images are padded by repeating their border up to this many pixels a side


def unsure_ratio(prob: np.ndarray) -> float:
    """Share of unsure pixels (0.05 < p < 0.95) per foreground pixel (p > 0.5): lower is more confident."""
    unsure = np.count_nonzero((prob > 0.05) & (prob < 0.95))
    return unsure / max(np.count_nonzero(prob > 0.5), 1)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks (1 when both are empty: they agree that there is nothing).

    >>> mask_iou(np.zeros(3, bool), np.zeros(3, bool)), mask_iou(np.array([1, 1, 0], bool), np.array([1, 0, 0], bool))
    (1.0, 0.5)
    """
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0


def choose_glance(modnet: np.ndarray, u2netp: np.ndarray, agree_iou: float = 0.8, prefer_margin: float = 0.8):
    """The name of the glance to trust: MODNet unless the two disagree and U²-Netp is clearly more confident."""
    if mask_iou(modnet > 0.5, u2netp > 0.5) < agree_iou and unsure_ratio(u2netp) < prefer_margin * unsure_ratio(modnet):
        return "u2netp"
    return "modnet"


def lost_glance_alpha(prob: np.ndarray, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """The alpha when the segmenters found no common subject: the map itself where it is unsure, its own 0 or 1
    where it is sure (p <= ``low`` or p >= ``high``), the TT merge of the map's confidence with the map.

    >>> lost_glance_alpha(np.array([0.01, 0.5, 0.97], np.float32)).tolist()
    [0.0, 0.5, 1.0]
    """
    glance = np.where(prob >= high, 1.0, np.where(prob <= low, 0.0, 0.5)).astype(np.float32)
    return merge_tt(glance, prob).astype(np.float32)


def _weight_paths(weights) -> dict[str, str]:
    if weights is None:
        return {}
    if isinstance(weights, dict) and set(weights) <= set(SEGMENTERS):
        return dict(weights)
    raise UsageError("the default engine uses two weight files: pass --weights modnet=PATH and/or "
                     "--weights u2netp=PATH.")


class DefaultEngine:
    """Offline glance (MODNet or U²-Netp) + closed-form/sampling focus + TT merge; see the module docstring."""

    name = "default"
    budget = Budget(base=GIB, per_megapixel=100 << 20)  # measured: 0.9 GB and 70 MB per megapixel (bench/robustness.py)

    def __init__(self, weights=None, band_fraction: float = BAND_FRACTION, work_pixels: int = 600_000,
                 glance_work_pixels: int = 400_000, doubt_iou: float = 0.75, lost_iou: float = 0.6):
        """``work_pixels``: working resolution of the focus for a user trimap; ``glance_work_pixels``: for a
        trimap from the glance, which is itself computed at about 0.4 MP (MODNet's input), so a finer solve of
        its band buys little and costs the time budget of a 1080p photo."""
        self.weight_paths = _weight_paths(weights)
        self.band_fraction = band_fraction
        self.work_pixels = work_pixels
        self.glance_work_pixels = glance_work_pixels
        self.doubt_iou = doubt_iou
        self.lost_iou = lost_iou

    @cached_property
    def modnet(self) -> Modnet:
        return Modnet(self.weight_paths.get("modnet"))

    @cached_property
    def u2netp(self) -> U2Netp:
        return U2Netp(self.weight_paths.get("u2netp"))

    def glance(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, float]:
        """The trusted soft foreground probability (float32 HxW); where the two segmenters roughly agree
        (IoU >= ``doubt_iou``), the mask of pixels on which they differ, left to the focus to decide; and the IoU
        of their masks."""
        probs = {"modnet": self.modnet.probability(image), "u2netp": self.u2netp.probability(image)}
        masks = [p > 0.5 for p in probs.values()]
        iou = mask_iou(*masks)
        doubt = masks[0] != masks[1] if iou >= self.doubt_iou else None
        return probs[choose_glance(probs["modnet"], probs["u2netp"])], doubt, iou

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> Matte:
        height, width = image.shape[:2]
        if min(height, width) < MIN_SIDE:
            pad = ((0, max(0, MIN_SIDE - height)), (0, max(0, MIN_SIDE - width)))
            grown = self.predict(np.pad(image, pad + ((0, 0),), mode="edge"),
                                 None if trimap is None else np.pad(trimap, pad, mode="edge"))
            return Matte(alpha=grown.alpha[:height, :width].copy(), foreground=grown.foreground[:height, :width].copy())
        work_pixels = self.work_pixels
        if trimap is None and np.ptp(image.reshape(-1, 3), axis=0).max() == 0:  # flat: no subject, all background
            return Matte(alpha=np.zeros((height, width), np.float32), foreground=image.astype(np.float32) / 255)
        if trimap is None:
            prob, doubt, iou = self.glance(image)
            work_pixels = self.glance_work_pixels
            if iou < self.lost_iou:
                alpha = lost_glance_alpha(prob)
                return Matte(alpha=alpha, foreground=estimate_foreground(image, alpha, work_pixels))
            trimap = trimap_from_probability(prob, self.band_fraction, doubt=doubt)
        alpha = solve_focus(image, trimap, work_pixels)
        foreground = estimate_foreground(image, alpha, work_pixels)
        return Matte(alpha=alpha, foreground=foreground)
