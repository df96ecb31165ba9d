"""Matting metrics under the two reference protocols, numbers identical to the reference implementations.

- ``protocol="gfm"``: the official GFM / P3M / AIM evaluation (``core/evaluate.py``), whole image, float64
  (Grad float32). Keys ``sad, mse, mad, grad, conn``, plus ``sad_tran, mse_tran, mad_tran, sad_fg, sad_bg``
  when a trimap is given.
- ``protocol="dim"``: the DIM MATLAB reference (``compute_*_loss.m``, ``evaluate.m``), pixels with trimap 128,
  single precision, trimap required. Keys ``sad, mse, grad, conn``.

Inputs: ``pred`` and ``gt`` are uint8 (0-255) or float in [0, 1]; ``trimap`` is uint8 with 0/128/255. A float32
array whose values all lie on the 8-bit grid (k/255, what ``mattekit.io.load_alpha`` returns for 8-bit PNGs)
is read as those 8-bit values, so it scores exactly like the PNG read by the reference code. The formulas,
scales and quirks are in ``docs/metrics.md``.

Example:
    >>> import numpy as np
    >>> gt = np.zeros((4, 4), np.uint8); gt[1:3, 1:3] = 255
    >>> trimap = np.full((4, 4), 128, np.uint8)
    >>> scores = evaluate(np.zeros((4, 4), np.uint8), gt, trimap)
    >>> scores["sad"], scores["mse"], scores["sad_tran"], scores["mse_tran"]
    (0.004, 0.25, 0.004, 0.25)
    >>> sorted(evaluate(gt, gt, trimap, protocol="dim"))
    ['conn', 'grad', 'mse', 'sad']
"""

from __future__ import annotations

import cv2
import numpy as np

from mattekit.errors import InputError, UsageError
from mattekit.evaluation import dim_protocol, gfm_protocol
from mattekit.io import load_alpha, load_trimap

PROTOCOLS = ("gfm", "dim")
GFM_KEYS = ("sad", "mse", "mad", "grad", "conn")
GFM_TRIMAP_KEYS = ("sad_tran", "mse_tran", "mad_tran", "sad_fg", "sad_bg")  # between mad and grad
DIM_KEYS = ("sad", "mse", "grad", "conn")
EIGHT_BIT_FLOAT32 = np.arange(256, dtype=np.float32) / np.float32(255)  # what load_alpha gives for 8-bit files
TRIMAP_REGION = np.full(256, 3, np.uint8)
TRIMAP_REGION[[0, 128, 255]] = [0, 1, 2]  # background, unknown, foreground; 3 marks a stray value


def as_matte(values, name: str) -> np.ndarray:
    """``values`` checked and returned as 2-D uint8, or as float64 in [0, 1] when not on the 8-bit grid.

    >>> as_matte(np.array([[0.0, 1.0]], np.float32), "alpha").dtype
    dtype('uint8')
    """
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"{name} must be a non-empty 2-D array (H, W), not of shape {arr.shape}.")
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"{name} must be uint8 (0-255) or float in [0, 1], not {arr.dtype}.")
    if arr.dtype == np.float32:
        codes = cv2.convertScaleAbs(arr, alpha=255)  # round(|255 x|), saturated to 0-255
        # Σ|grid value − x| is 0 only on the grid (hence in [0, 1]); NaN makes it NaN, a subnormal difference > 0
        if cv2.norm(cv2.LUT(codes, EIGHT_BIT_FLOAT32), arr, cv2.NORM_L1) == 0:
            return codes
    low, high = float(arr.min()), float(arr.max())
    if not (0.0 <= low and high <= 1.0):  # also false for NaN
        raise InputError(f"{name} holds values outside [0, 1] (from {low:g} to {high:g}); pass floats in [0, 1].")
    return arr.astype(np.float64)


def _trimap_regions(trimap, shape: tuple[int, int]) -> np.ndarray:
    """Region codes 0 (background), 1 (unknown), 2 (foreground) of a checked uint8 trimap."""
    arr = np.asarray(trimap)
    if arr.shape != shape:
        raise InputError(f"trimap has shape {arr.shape} but pred and gt have shape {shape}; they must match.")
    if arr.dtype != np.uint8:
        raise InputError(f"trimap must be uint8 with values 0, 128 and 255, not {arr.dtype}.")
    regions = cv2.LUT(np.ascontiguousarray(arr), TRIMAP_REGION)
    if regions.max() == 3:
        stray = int(arr[regions == 3][0])
        raise InputError(f"trimap holds the value {stray}; a trimap holds only 0, 128 and 255.")
    return regions


def evaluate(pred, gt, trimap=None, protocol: str = "gfm") -> dict[str, float]:
    """Score ``pred`` against ``gt`` under ``protocol`` ("gfm" or "dim"); see the module docstring for keys.

    >>> a = np.array([[0, 255]], np.uint8)
    >>> evaluate(a, a)
    {'sad': 0.0, 'mse': 0.0, 'mad': 0.0, 'grad': 0.0, 'conn': 0.0}
    """
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown metrics protocol {protocol!r}; choose 'gfm' or 'dim'.")
    pred, gt = as_matte(pred, "pred"), as_matte(gt, "gt")
    if pred.shape != gt.shape:
        raise InputError(f"pred has shape {pred.shape} but gt has shape {gt.shape}; they must match.")
    if protocol == "dim" and trimap is None:
        raise InputError("the dim protocol scores the trimap's unknown region, so it needs a trimap.")
    regions = None if trimap is None else _trimap_regions(trimap, pred.shape)
    return gfm_protocol.score(pred, gt, regions) if protocol == "gfm" else dim_protocol.score(pred, gt, regions == 1)


def evaluate_files(pred_path, gt_path, trimap_path=None, protocol: str = "gfm") -> dict[str, float]:
    """``evaluate`` on files read with ``mattekit.io``; a size mismatch names both files.

    >>> evaluate_files("pred.png", "gt.png", "trimap.png", protocol="dim")  # doctest: +SKIP
    {'sad': 10.71, 'mse': 0.0052, 'grad': 7.93, 'conn': 9.84}
    """
    pred, gt = load_alpha(pred_path), load_alpha(gt_path)
    if pred.shape != gt.shape:
        raise InputError(
            f"{pred_path} is {pred.shape[1]}x{pred.shape[0]} but {gt_path} is {gt.shape[1]}x{gt.shape[0]}; "
            "a prediction must have its ground truth's size."
        )
    trimap = None if trimap_path is None else load_trimap(trimap_path, gt.shape)
    return evaluate(pred, gt, trimap, protocol=protocol)
