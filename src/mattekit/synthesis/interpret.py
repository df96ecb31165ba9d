"""Interpreter weights on disk, and person instances read from an image's diffusion features.

A trained interpreter (``mattekit.models.interpreter``) is a ``.safetensors`` file whose metadata hold its
construction options and the timestep its features are taken at, so ``mattekit synthesize`` rebuilds it alone.
``instances`` turns its N queries into the people of one image: queries whose person probability reaches
``threshold``, most confident first, a query dropped when its matte overlaps a kept one (IoU of the mattes over
0.5 above ``duplicate_iou``), the mattes resized to the image and scaled where their sum exceeds 1 (InstMatt's
occlusion-resolved convention: a pixel's instance alphas add up to at most 1).

Example:
    >>> net, timestep = read_interpreter("runs/interpreter/checkpoints/best.safetensors")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mattekit.engines.gfm_weights import read_weights, unique_state
from mattekit.errors import WeightsError
from mattekit.io import atomic_path
from mattekit.models.interpreter import Interpreter

FORMAT = "mattekit-interpreter"


def write_interpreter(model: Interpreter, path: str | os.PathLike, timestep: int) -> Path:
    """Write ``model`` with its options and feature ``timestep`` to ``path`` atomically."""
    from safetensors.torch import save_file
    path = Path(path)
    metadata = {"format": FORMAT, "options": json.dumps(model.options), "timestep": str(int(timestep))}
    with atomic_path(path) as tmp:
        save_file(unique_state(model), tmp, metadata=metadata)
    return path


def read_interpreter(path: str | os.PathLike) -> tuple[Interpreter, int]:
    """The interpreter in ``path`` (evaluation mode) and its feature timestep; WeightsError for other files."""
    state, meta = read_weights(path)
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{path} is not an interpreter written by mattekit train (configs/interpreter.yaml).")
    model = Interpreter(**json.loads(meta["options"]))
    model.load_state_dict(state)
    return model.eval(), int(meta["timestep"])


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a > 0.5, b > 0.5
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 0.0


def instances(out: dict, size: tuple[int, int], threshold: float = 0.5, duplicate_iou: float = 0.8):
    """(person probabilities (K,), float32 alphas (K, H, W) in [0, 1]) of the people in the first image of
    ``out`` (an ``Interpreter`` output), ``size`` = (H, W)."""
    probs = out["logits"][0].float().sigmoid()
    alphas = F.interpolate(out["alphas"][:1].float(), size=size, mode="bilinear", align_corners=False)[0].clamp(0, 1)
    kept: list[int] = []
    for i in torch.argsort(probs, descending=True).tolist():
        if probs[i] < threshold:
            break
        if alphas[i].max() > 0.5 and all(iou(alphas[i], alphas[j]) <= duplicate_iou for j in kept):
            kept.append(i)
    chosen = alphas[kept]
    chosen = chosen / chosen.sum(0).clamp(min=1)
    return probs[kept].cpu().numpy(), chosen.cpu().numpy().astype(np.float32)
