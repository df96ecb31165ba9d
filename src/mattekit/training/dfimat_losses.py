"""DFIMat's losses (Jiao et al., ACCV 2024, arXiv 2410.09788, §3.2 Eq. 6 and §3.3 Eq. 7), batched tensors.

Eq. 6, ISCN: ``0.1·CE(class) + BCE(mask) + Dice(mask)``. Which prediction answers which ground truth follows
X-Decoder/SEEM (Zou et al., arXiv 2212.11270 / 2304.06718): the target's mask is matched to the one prompt query
(text or visual) of lowest BCE + Dice (SEEM's min-cost choice among a prompt's candidates), the scene's person
instances to object queries by Hungarian matching (cost: BCE + Dice − p(person)); a matched query's class is
"person", every other valid query's "not a person" (so the ConceptClassifier also picks the target's query at
inference). Per sample, CE is the mean over its valid queries, BCE and Dice the means over its matched pairs; the
batch takes the mean of its samples. With ``points`` the mask
terms are taken on that many points per mask, chosen as Mask2Former does (Cheng et al., CVPR 2022, arXiv
2112.01527, §4: 3x oversampling, 75 % of the points where the prediction is least certain, the rest uniform);
without, on every pixel of the 1/4 masks. ``deep_supervision`` adds the same loss for every earlier layer's
prediction (Mask2Former's auxiliary losses).

Dice: 1 − (2 Σ p·t + 1) / (Σ p + Σ t + 1) per mask, p = sigmoid(logit) (Mask2Former's form).

Eq. 7, MRN: (1/|C|) Σ_C |α_p − α_g| + λ (1/|H|) Σ_H |α_p − α_g| with H the pixels whose error is among the top
30 % (at least one pixel), λ = 1, per image then the batch mean. For the three outputs of the PRM path
(``mrn_loss``) each term is Eq. 7 over the region where that output is used (1/8: every pixel; 1/4 and 1/1: the
PRM regions), weighted 1 : 1 : 2 as Mask Guided Matting weights its outputs (Yu et al., CVPR 2021, §3.3), / 4.

Example:
    >>> import torch
    >>> round(float(dice_loss(torch.zeros(1, 2, 2), torch.ones(1, 2, 2))), 4)   # 1 - (2·2 + 1) / (2 + 4 + 1)
    0.2857
    >>> round(float(hard_l1(torch.zeros(1, 4), torch.tensor([[1., 0, 0, 0.5]]))), 4)  # 0.375 + (1 + 0.5) / 2
    1.125
"""

from __future__ import annotations

import math

import torch
from scipy.optimize import linear_sum_assignment
from torch.nn import functional as F

from mattekit.models.dfimat.decoder import OBJECT, TEXT, VISUAL

CLASS_WEIGHT = 0.1
HARD_SHARE = 0.3
OVERSAMPLE, IMPORTANCE = 3, 0.75


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy (soft targets allowed) of (N, ...) mask logits."""
    return F.binary_cross_entropy_with_logits(logits, target)


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the N masks of 1 − (2 Σ p·t + 1) / (Σ p + Σ t + 1)."""
    p, t = torch.sigmoid(logits).flatten(1), target.flatten(1)
    return (1 - (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)).mean()


def iscn_terms(mask_logits, mask_targets, class_logits, class_labels) -> dict[str, torch.Tensor]:
    """Eq. 6 for matched pairs: (N, ...) mask logits and targets, (M, 2) class logits and (M,) labels (1 person)."""
    ce = F.cross_entropy(class_logits, class_labels)
    bce, dice = bce_loss(mask_logits, mask_targets), dice_loss(mask_logits, mask_targets)
    return {"loss": CLASS_WEIGHT * ce + bce + dice, "ce": ce, "bce": bce, "dice": dice}


def pair_costs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(Q, K) BCE + Dice of every prediction (Q, h, w) against every target (K, h, w)."""
    p, t, lg = torch.sigmoid(logits).flatten(1), targets.flatten(1), logits.flatten(1)
    bce = (F.softplus(lg) @ torch.ones_like(t).T - lg @ t.T) / t.shape[1]
    dice = 1 - (2 * p @ t.T + 1) / (p.sum(1)[:, None] + t.sum(1)[None] + 1)
    return bce + dice


def sample_uncertain_points(logits: torch.Tensor, count: int) -> torch.Tensor:
    """(N, count, 2) normalised (x, y) in [-1, 1]: Mask2Former's importance sampling on (N, h, w) logits."""
    n = logits.shape[0]
    candidates = torch.rand(n, count * OVERSAMPLE, 2, device=logits.device) * 2 - 1
    values = F.grid_sample(logits[:, None].detach(), candidates[:, None], align_corners=False)[:, 0, 0]
    certain = int(IMPORTANCE * count)
    worst = (-values.abs()).topk(certain, dim=1).indices
    chosen = torch.gather(candidates, 1, worst[..., None].expand(-1, -1, 2))
    rest = torch.rand(n, count - certain, 2, device=logits.device) * 2 - 1
    return torch.cat([chosen, rest], 1)


def at_points(logits: torch.Tensor, targets: torch.Tensor, points: int | None):
    if not points:
        return logits, targets
    grid = sample_uncertain_points(logits, points)[:, None]
    sample = lambda x: F.grid_sample(x[:, None], grid, align_corners=False)[:, 0, 0]  # noqa: E731
    return sample(logits), sample(targets)


def iscn_loss(out: dict, target: torch.Tensor, instances: list[torch.Tensor | None], points: int | None = None,
              deep_supervision: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 6 on ISCN's output ``out``: ``target`` (B, h, w) the target's alpha at the masks' size, ``instances``
    per row the scene's person alphas (K, h, w) at that size (or None: the target is the only person)."""
    predictions = [*out["aux"], (out["masks"], out["classes"])] if deep_supervision else [(out["masks"],
                                                                                           out["classes"])]
    kinds, valid = out["kinds"], out["valid"]
    totals: dict[str, torch.Tensor] = {}
    for masks, classes in predictions:
        terms = one_prediction(masks, classes, kinds, valid, target, instances, points)
        for k, v in terms.items():
            totals[k] = totals.get(k, 0) + v
    return totals["loss"], {k: v for k, v in totals.items() if k != "loss"}


def one_prediction(masks, classes, kinds, valid, target, instances, points) -> dict[str, torch.Tensor]:
    """Eq. 6 of one layer's prediction, per batch row (so that a batch split over processes averages the same)."""
    prompt_query = (kinds == TEXT) | (kinds == VISUAL)
    objects = (kinds == OBJECT).nonzero()[:, 0]
    rows = []
    for b in range(masks.shape[0]):
        pred, truth = [], []
        labels = torch.zeros(valid.shape[1], dtype=torch.long, device=masks.device)
        with torch.no_grad():
            candidates = (prompt_query & valid[b]).nonzero()[:, 0]
            if len(candidates):
                best = candidates[pair_costs(masks[b, candidates], target[b:b + 1]).argmin()]
                pred.append(masks[b, best])
                truth.append(target[b])
                labels[best] = 1
            people = instances[b] if instances[b] is not None else target[b:b + 1]
            cost = pair_costs(masks[b, objects], people) - torch.softmax(classes[b, objects], -1)[:, 1:2]
            matched = linear_sum_assignment(cost.float().cpu().numpy())
        for r, c in zip(*matched):
            pred.append(masks[b, objects[r]])
            truth.append(people[c])
            labels[objects[r]] = 1
        logits, targets = at_points(torch.stack(pred), torch.stack(truth), points)
        rows.append(iscn_terms(logits, targets, classes[b][valid[b]], labels[valid[b]]))
    return {k: torch.stack([r[k] for r in rows]).mean() for k in rows[0]}


def hard_l1(pred: torch.Tensor, target: torch.Tensor, region: torch.Tensor | None = None,
            lam: float = 1.0, share: float = HARD_SHARE) -> torch.Tensor:
    """Eq. 7 per image of (B, ...) alphas, over ``region`` (bool, same shape) or every pixel; batch mean. An
    image with an empty region adds 0."""
    losses = []
    for b in range(pred.shape[0]):
        error = (pred[b] - target[b]).abs().flatten()
        if region is not None:
            error = error[region[b].flatten()]
        if error.numel() == 0:
            losses.append(error.sum())
            continue
        hard = error.topk(max(1, math.ceil(share * error.numel()))).values
        losses.append(error.mean() + lam * hard.mean())
    return torch.stack(losses).mean()


def mrn_loss(out: dict, alpha: torch.Tensor, lam: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 7 on MRN's three outputs over their PRM regions, weighted 1 : 1 : 2 (/ 4); ``alpha`` (B, 1, H, W)."""
    terms = {"os8": hard_l1(out["alpha_os8"], alpha, None, lam),
             "os4": hard_l1(out["alpha_os4"], alpha, out["region_os4"], lam),
             "os1": hard_l1(out["alpha_os1"], alpha, out["region_os1"], lam)}
    return (terms["os8"] + terms["os4"] + 2 * terms["os1"]) / 4, terms
