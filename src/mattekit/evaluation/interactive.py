"""Interactive and instance metrics: IoU of binarised mattes, NoC, per-round curves, and InstMatt's IMQ.

- ``iou``: a matte is foreground where alpha > 0.5 (8-bit: 128 and above). RITM thresholds its probabilities at
  0.49, InstMatt's matching at > 0, MAM at > 127/255; 0.5 is the midpoint and the same rule for every engine.
- ``noc`` / ``noc_summary``: RITM's number of clicks: the 1-based index of the first click whose IoU reaches
  the threshold, else the cap (20). With several clicks per round, a round counts as that many clicks.
- ``mean_curve``: the mean value per click (or round) over samples; a sample that stopped early keeps its
  last value, as SEEM pads its evaluation.
- ``imq``: InstMatt's instance matting quality with its MQ and RQ parts (``docs/metrics.md``).

Example:
    >>> import numpy as np
    >>> round(iou(np.array([[200, 128, 127, 0]], np.uint8), np.array([[255, 0, 255, 0]], np.uint8)), 4)
    0.3333
    >>> noc([0.5, 0.86, 0.91], threshold=0.85), noc([0.5, 0.86, 0.91], threshold=0.95)
    (2, 20)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from mattekit.errors import InputError
from mattekit.evaluation.dim_protocol import single_precision_conn_errors
from mattekit.evaluation.gradient import dim_gradient_magnitude
from mattekit.evaluation.metrics import as_matte

BINARY_THRESHOLD = 0.5
MAX_CLICKS = 20
NOC_THRESHOLDS = (0.85, 0.90)
IMQ_THRESHOLDS = (0.5, 0.75)
IMQ_PARTS = ("mad", "mse", "grad", "conn", "iou")


def _unit(matte: np.ndarray) -> np.ndarray:
    """A validated matte as float64 in [0, 1]."""
    return matte / 255.0 if matte.dtype == np.uint8 else matte


def _pair(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = as_matte(pred, "pred"), as_matte(gt, "gt")
    if pred.shape != gt.shape:
        raise InputError(f"pred has shape {pred.shape} but gt has shape {gt.shape}; they must match.")
    return pred, gt


def iou(pred, gt, threshold: float = BINARY_THRESHOLD) -> float:
    """|P ∩ G| / |P ∪ G| of the mattes binarised at alpha > ``threshold``; 1.0 when both are empty."""
    pred, gt = _pair(pred, gt)
    p, g = _unit(pred) > threshold, _unit(gt) > threshold
    union = np.count_nonzero(p | g)
    return float(np.count_nonzero(p & g) / union) if union else 1.0


def noc(ious: Sequence[float], threshold: float, max_clicks: int = MAX_CLICKS, clicks_per_round: int = 1) -> int:
    """Clicks until IoU ≥ ``threshold``: ``clicks_per_round`` × the 1-based index of the first such entry of
    ``ious`` (one entry per round), or ``max_clicks`` if no entry within the cap reaches it.

    >>> noc([0.8, 0.9], threshold=0.9, clicks_per_round=3)
    6
    """
    rounds = max_clicks // clicks_per_round
    reached = np.flatnonzero(np.asarray(ious[:rounds], dtype=np.float64) >= threshold)
    return int(reached[0] + 1) * clicks_per_round if reached.size else max_clicks


def noc_summary(
    per_sample_ious: Iterable[Sequence[float]],
    thresholds: Sequence[float] = NOC_THRESHOLDS,
    max_clicks: int = MAX_CLICKS,
    clicks_per_round: int = 1,
) -> dict[str, float]:
    """Mean NoC over samples per threshold (``noc@85``...) and RITM's ``nof@85``...: the number of samples at
    the cap, which also counts those reaching the threshold exactly at the last click.

    >>> noc_summary([[0.9], [0.5, 0.86]])
    {'noc@85': 1.5, 'nof@85': 0, 'noc@90': 10.5, 'nof@90': 1}
    """
    samples = list(per_sample_ious)
    if not samples:
        raise InputError("noc_summary needs the IoUs of at least one sample.")
    summary: dict[str, float] = {}
    for threshold in thresholds:
        counts = [noc(ious, threshold, max_clicks, clicks_per_round) for ious in samples]
        name = f"{round(threshold * 100):d}"
        summary[f"noc@{name}"] = float(np.mean(counts))
        summary[f"nof@{name}"] = sum(count == max_clicks for count in counts)
    return summary


def mean_curve(per_sample_values: Iterable[Sequence[float]], length: int | None = None) -> np.ndarray:
    """Mean per click/round over samples, each padded with its last value to ``length`` (default: the longest).

    >>> mean_curve([[0.5, 0.9], [0.7]]).tolist()
    [0.6, 0.8]
    """
    samples = [np.asarray(values, dtype=np.float64) for values in per_sample_values]
    if not samples or any(values.ndim != 1 or values.size == 0 for values in samples):
        raise InputError("mean_curve needs at least one sample, each with at least one value per round.")
    length = max(values.size for values in samples) if length is None else length
    padded = [np.pad(values[:length], (0, max(0, length - values.size)), mode="edge") for values in samples]
    return np.mean(padded, axis=0)


def _stack(mattes: Sequence, name: str) -> np.ndarray:
    """Instance mattes of one image as a float64 (n, H, W) array in [0, 1] (n may be 0)."""
    arrays = [_unit(as_matte(m, f"{name}[{i}]")) for i, m in enumerate(mattes)]
    if len({a.shape for a in arrays}) > 1:
        sizes = ", ".join(str(a.shape) for a in arrays)
        raise InputError(f"the {name} instances of one image differ in size ({sizes}).")
    return np.array(arrays, dtype=np.float64)


def match_instances(preds: np.ndarray, gts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hungarian matching on the IoU of supports (alpha > 0): (pred indices, gt indices, their IoUs).

    The IoU is |P ∩ G| / (|P ∪ G| + 1e-8) as InstMatt computes it; ``preds`` and ``gts`` are (n, H, W) arrays.
    """
    p = (preds > 0).reshape(len(preds), -1).astype(np.float64)
    g = (gts > 0).reshape(len(gts), -1).astype(np.float64)
    inter = p @ g.T
    ious = inter / (p.sum(1)[:, None] + g.sum(1)[None, :] - inter + 1e-8)
    rows, cols = linear_sum_assignment(1.0 - ious)
    return rows, cols, ious[rows, cols]


def instance_similarities(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """InstMatt's per-pair similarities 1 − min(10·err, 1), each error averaged over pred > 0 | gt > 0 (+1).

    MAD and MSE are the mean |Δα| and Δα²; Grad the mean (|∇p| − |∇g|)² with the DIM 9×9 kernel on α
    (no mat2gray); Conn the mean |Δφ| of the MATLAB sweep. ``pred`` and ``gt`` are float in [0, 1].
    """
    region = (pred > 0) | (gt > 0)
    size = float(np.count_nonzero(region)) + 1.0
    diff = (pred - gt)[region]
    grad = np.square(dim_gradient_magnitude(pred) - dim_gradient_magnitude(gt))[region]
    conn = single_precision_conn_errors(pred, gt, column_major=False)[region]
    errors = {"mad": np.abs(diff).sum(), "mse": diff @ diff, "grad": grad.sum(), "conn": conn.sum(dtype=np.float64)}
    return {name: 1.0 - min(10.0 * float(total) / size, 1.0) for name, total in errors.items()}


def imq(
    images: Iterable[tuple[Sequence, Sequence]], thresholds: Sequence[float] = IMQ_THRESHOLDS
) -> dict[float, dict]:
    """IMQ / MQ / RQ over a dataset of (predicted instance mattes, ground-truth instance mattes) per image.

    Per threshold t: TP are matched pairs with IoU ≥ t, FP = n − TP, FN = m − TP (summed over images);
    IMQ_x = Σ similarity_x / (TP + FP/2 + FN/2 + 1e-6), MQ_x = Σ similarity_x / TP (NaN without TP),
    RQ = TP / (TP + FP/2 + FN/2 + 1e-6), for x in MAD, MSE, Grad, Conn and IoU (the IoU itself). Fractions,
    not the ×100 of papers. Returns ``{t: {"imq": {x: ...}, "mq": {x: ...}, "rq": ...}}``.

    >>> block = np.zeros((6, 6)); block[1:4, 1:4] = 1.0
    >>> imq([([block], [block])])[0.5]["imq"]["mad"] > 0.99
    True
    """
    sums = {t: dict.fromkeys(IMQ_PARTS, 0.0) for t in thresholds}
    tp, fp, fn = dict.fromkeys(thresholds, 0), dict.fromkeys(thresholds, 0), dict.fromkeys(thresholds, 0)
    for preds, gts in images:
        preds, gts = _stack(preds, "pred"), _stack(gts, "gt")
        if preds.size and gts.size and preds.shape[1:] != gts.shape[1:]:
            raise InputError(f"pred instances are {preds.shape[1:]} but gt instances are {gts.shape[1:]}.")
        rows, cols, ious = match_instances(preds, gts) if len(preds) and len(gts) else ([], [], np.zeros(0))
        pairs = [
            instance_similarities(preds[r], gts[c]) | {"iou": float(v)}
            for r, c, v in zip(rows, cols, ious)
            if v >= min(thresholds)
        ]
        for t in thresholds:
            hits = [scores for scores in pairs if scores["iou"] >= t]
            tp[t], fp[t], fn[t] = tp[t] + len(hits), fp[t] + len(preds) - len(hits), fn[t] + len(gts) - len(hits)
            for scores in hits:
                for part in IMQ_PARTS:
                    sums[t][part] += scores[part]
    result = {}
    for t in thresholds:
        coeff = 1.0 / (tp[t] + 0.5 * fp[t] + 0.5 * fn[t] + 1e-6)
        result[t] = {
            "imq": {part: float(sums[t][part] * coeff) for part in IMQ_PARTS},
            "mq": {part: float(sums[t][part] / tp[t]) if tp[t] else float("nan") for part in IMQ_PARTS},
            "rq": float(tp[t] * coeff),
        }
    return result
