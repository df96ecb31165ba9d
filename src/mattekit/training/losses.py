"""GFM's training losses on batched tensors (B, C, H, W), any device (Li et al., "Bridging Composite and Real",
IJCV 2022, arXiv:2010.16188, Eq. 2-8).

- Eq. 2, ``glance_loss``: cross-entropy of the glance decoder's class map (logits -> log-softmax).
- Eq. 4, ``alpha_loss``: Σ W·sqrt((α − α̂)² + ε²) / ΣW with ε = 1e-6 (W = 1 everywhere for the whole image);
  ε is taken on the transition pixels only (as printed, every pixel outside W would add the constant ε/ΣW), and
  the sums run over each image, the batch taking the mean of the images' losses (so that the loss of a batch split
  over several processes is the mean of theirs).
- Eq. 5, ``laplacian_loss``: L1 distance between the five band-pass levels of the Laplacian pyramids of α and α̂
  (5x5 Gaussian, σ = 1, replicate padding, 2x average-pool between levels), mean over pixels per level; in the
  transition both maps are multiplied by W before the pyramid is built.
- Eq. 7, ``composition_loss``: mean over pixels and channels of sqrt((C(α) − C(α̂))² + ε²), C(a) = aF + (1 − a)B.
- Eq. 3, 6, 8, ``gfm_loss``: L = L_CE + L_FD + L_CM, L_FD = L_α + L_lap on the focus output in the transition,
  L_CM = L_α + L_lap + L_comp on the merged alpha over the whole image.
- ``rim_loss``: the three RoSTa losses plus L_CM of RIM's output (§5.5).

``official=True`` reproduces the released training code instead (for re-training the released models; see
docs/gfm.md): cross-entropy taken on the sigmoid of the logits, L_α^T = Σ W·sqrt((α − α̂)² + ε²) / (ΣW + 1)
with the sums over the whole batch,
the "plus-shaped" pyramid kernel (sum, not product, of two squared 1-D Gaussians) with the low-pass residual as a
sixth level, the composition compared with the input image and summed over channels, and the four terms weighted
0.25 each.

Example:
    >>> import torch
    >>> logits = torch.zeros(1, 3, 2, 2)
    >>> round(glance_loss(logits, torch.zeros(1, 2, 2, dtype=torch.long)).item(), 4)   # log 3
    1.0986
"""

from __future__ import annotations


import torch
from torch.nn import functional as F

EPS = 1e-6
LEVELS = 5


def glance_loss(logits: torch.Tensor, classes: torch.Tensor, official: bool = False) -> torch.Tensor:
    """Eq. 2 averaged over pixels; ``classes`` (B, H, W) long. ``official``: CE of sigmoid(logits)."""
    return F.cross_entropy(torch.sigmoid(logits) if official else logits, classes)


def alpha_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
               official: bool = False) -> torch.Tensor:
    """Eq. 4: the Charbonnier-smoothed absolute error, over ``weight`` (0/1) or the whole image."""
    if weight is None:
        return torch.sqrt((pred - target) ** 2 + EPS ** 2).mean()
    smooth_error = torch.sqrt((pred - target) ** 2 + EPS ** 2) * weight
    if official:
        return smooth_error.sum() / (weight.sum() + 1)
    per_image = smooth_error.sum((1, 2, 3)) / weight.sum((1, 2, 3)).clamp_min(1)
    return per_image.mean()


def gauss_kernel(official: bool = False, size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    """The pyramid's 5x5 low-pass kernel, normalised to sum 1: g(i)·g(j) with g a Gaussian of ``sigma``;
    ``official``: g(i)² + g(j)² (the released code's plus-shaped kernel)."""
    g = torch.exp(-((torch.arange(size, dtype=torch.float64) - size // 2) ** 2) / (2 * sigma ** 2))
    kernel = (g[:, None] ** 2 + g[None, :] ** 2) if official else g[:, None] * g[None, :]
    return (kernel / kernel.sum()).float()


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    channels, pad = x.shape[1], kernel.shape[-1] // 2
    weight = kernel.to(x)[None, None].expand(channels, 1, -1, -1)
    return F.conv2d(F.pad(x, (pad,) * 4, mode="replicate"), weight, groups=channels)


def laplacian_pyramid(x: torch.Tensor, levels: int = LEVELS, official: bool = False) -> list[torch.Tensor]:
    """``levels`` band-pass maps (each level minus its blur, finest first) followed by the low-pass residual."""
    kernel = gauss_kernel(official)
    pyramid = []
    for _ in range(levels):
        low = blur(x, kernel)
        pyramid.append(x - low)
        x = F.avg_pool2d(low, 2)
    return pyramid + [x]


def laplacian_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                   official: bool = False) -> torch.Tensor:
    """Eq. 5: Σ over the five band-pass levels of mean |Lap_k(α) − Lap_k(α̂)| (maps masked by ``weight`` first);
    ``official`` adds the residual level and uses the plus-shaped kernel."""
    if weight is not None:
        pred, target = pred * weight, target * weight
    a, b = laplacian_pyramid(pred, official=official), laplacian_pyramid(target, official=official)
    terms = len(a) if official else LEVELS
    return sum(F.l1_loss(a[k], b[k]) for k in range(terms))


def composition_loss(alpha_pred: torch.Tensor, alpha: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor,
                     image: torch.Tensor | None = None, official: bool = False) -> torch.Tensor:
    """Eq. 7 with colours in [0, 1]; ``official``: compared with ``image`` and summed over the channels."""
    composite = alpha_pred * fg + (1 - alpha_pred) * bg
    reference = image if official else alpha * fg + (1 - alpha) * bg
    per_channel = torch.sqrt((composite - reference) ** 2 + EPS ** 2)
    return per_channel.sum(1).mean() if official else per_channel.mean()


def glance_classes(glance: torch.Tensor, rosta: str) -> torch.Tensor:
    """Class indices (B, H, W) of a glance target in the merge rule's form (TT 0/0.5/1 -> 0/1/2; FT/BT 0/1)."""
    return torch.round(glance[:, 0] * (2 if rosta == "tt" else 1)).long()


def rosta_loss(out: dict, batch: dict, rosta: str, suffix: str = "", official: bool = False
               ) -> dict[str, torch.Tensor]:
    """The terms of Eq. 8 for one RoSTa; ``out`` holds ``glance_logits``/``focus``/``alpha`` (+ ``suffix``),
    ``batch`` holds ``alpha``, ``fg``, ``bg``, ``image`` and ``glance_<rosta>``/``focus_<rosta>``/
    ``transition_<rosta>`` (the targets of ``mattekit.matting.targets``)."""
    transition = batch[f"transition_{rosta}"]
    focus_target = batch[f"focus_{rosta}"]
    merged = out[f"alpha{suffix}"]
    return {
        "ce": glance_loss(out[f"glance_logits{suffix}"], glance_classes(batch[f"glance_{rosta}"], rosta), official),
        "focus_alpha": alpha_loss(out[f"focus{suffix}"], focus_target, transition, official),
        "focus_lap": laplacian_loss(out[f"focus{suffix}"], focus_target, transition, official),
        **merge_loss(merged, batch, official),
    }


def merge_loss(merged: torch.Tensor, batch: dict, official: bool = False) -> dict[str, torch.Tensor]:
    """L_CM (Eq. 6) of a merged alpha over the whole image."""
    alpha = batch["alpha"]
    return {
        "alpha": alpha_loss(merged, alpha, None, official),
        "lap": laplacian_loss(merged, alpha, None, official),
        "comp": composition_loss(merged, alpha, batch["fg"], batch["bg"], batch.get("image"), official),
    }


def total(terms: dict[str, torch.Tensor], official: bool = False) -> torch.Tensor:
    """Eq. 8: the sum of the terms (0.25 × the sum with ``official``, which weights its four groups 0.25 each)."""
    return sum(terms.values()) * (0.25 if official else 1.0)


def gfm_loss(out: dict, batch: dict, rosta: str, official: bool = False) -> tuple[torch.Tensor, dict]:
    """(L, its named terms) for a GFM output ``out`` of RoSTa ``rosta`` (tt, ft, bt or rim)."""
    if rosta == "rim":
        return rim_loss(out, batch, official)
    terms = rosta_loss(out, batch, rosta, "", official)
    return total(terms, official), terms


def rim_loss(out: dict, batch: dict, official: bool = False) -> tuple[torch.Tensor, dict]:
    """L_TT + L_FT + L_BT (each Eq. 8 on its RoSTa head) + L_CM of RIM's output; no 0.25 weights (as released)."""
    terms = {}
    for form in ("tt", "ft", "bt"):
        terms.update({f"{form}_{k}": v for k, v in rosta_loss(out, batch, form, f"_{form}", official).items()})
    terms.update({f"rim_{k}": v for k, v in merge_loss(out["alpha"], batch, official).items()})
    return sum(terms.values()), terms
