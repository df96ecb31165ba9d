"""BM3D denoising of foregrounds and backgrounds, the first step of the RSSN route (Li et al., "Bridging
Composite and Real", IJCV 2022, arXiv:2010.16188, §4).

``bm3d_denoise`` runs the ``bm3d`` package (Dabov et al.; Mäkinen et al.) on an RGB image. The paper does not say
which noise level it removes; here it is the image's own, estimated with scikit-image's wavelet estimator
(``estimate_sigma``), so a clean photo is left almost as it is and a noisy one is cleaned. BM3D takes minutes per
1080p image on one core, which is why the RSSN code reads denoised copies from the pixel store and
``mattekit denoise`` computes them ahead, in parallel.

Note: the ``bm3d`` package is licensed for non-commercial use only, so it is not a core dependency: it comes with
the ``rssn`` extra (``pip install 'mattekit[rssn]'``); ``require_bm3d`` names that extra when it is missing.

Example:
    >>> import numpy as np
    >>> noisy = np.clip(128 + np.random.default_rng(0).normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
    >>> float(bm3d_denoise(noisy).std()) < float(noisy.std()) / 2    # doctest: +SKIP
    True
"""

from __future__ import annotations

import numpy as np

from mattekit.extras import require

PROFILES = ("np", "lc")  # the package's default profile and its low-complexity one (about 3x faster)
MIN_SIGMA = 0.5  # grey levels: BM3D needs a positive noise level


def noise_level(image: np.ndarray) -> float:
    """The noise standard deviation of uint8 ``image`` in grey levels (wavelet estimate, channels averaged).

    >>> flat = np.full((64, 64, 3), 100, np.uint8)
    >>> noise_level(flat)
    0.5
    """
    from skimage.restoration import estimate_sigma

    sigma = float(estimate_sigma(image, average_sigmas=True, channel_axis=-1))
    return max(sigma, MIN_SIGMA)


def require_bm3d():
    """The ``bm3d`` module, or the UsageError naming the ``rssn`` extra (checked before a batch of BM3D work)."""
    return require("rssn", "bm3d", "bm3d.profiles", feature="BM3D denoising (RSSN)")[0]


def bm3d_denoise(image: np.ndarray, profile: str = "np", sigma: float | None = None) -> np.ndarray:
    """BM3D-denoised uint8 RGB ``image``; ``sigma`` (grey levels) defaults to the image's estimated noise level."""
    bm3d = require_bm3d()

    level = noise_level(image) if sigma is None else max(float(sigma), MIN_SIGMA)
    settings = bm3d.profiles.BM3DProfileLC() if profile == "lc" else "np"
    out = bm3d.bm3d_rgb(image.astype(np.float32) / 255.0, level / 255.0, profile=settings)
    return np.round(np.clip(out, 0.0, 1.0) * 255.0).astype(np.uint8)
