"""The ``dfimat`` engine (DFIMat: Jiao et al., ACCV 2024, arXiv 2410.09788) and the ``mrn`` refiner engine.

``dfimat`` serves interactive sessions (``mattekit.interactive.session``): ``prepare`` resizes the image so that
its longer side is at most ``max_size``, pads it to multiples of 32 and runs ISCN's image encoder once; each
``round`` reruns only ISCN's decoder (with the CRM) and MRN. Every visual prompt of rounds 1..t is a prompt token
(``RoundInput.all_prompts``; the text of all rounds is joined); the conflict map of the Session (the core's
``conflict_map``, resized to the network's input by nearest neighbour) and the previous round's alpha carry the
rounds, as §3.2 describes. ISCN's target mask (sigmoid of the chosen query's mask, upsampled) is MRN's coarse mask;
with ISCN weights alone the coarse mask is the answer. ``predict(image, trimap)`` refines a trimap with MRN.

``mrn`` refines any coarse input: ``predict(image, trimap)`` where ``trimap`` is a uint8 trimap (0/128/255) or any
coarse mask (uint8 0..255 or float 0..1).

Weights: ``weights=`` one DFIMat file (ISCN and MRN) or two (``"iscn.safetensors,mrn.safetensors"``), written by
``mattekit train`` (``engines.dfimat_weights``). No DFIMat weights were ever released, so there is no default.

Example:
    >>> from mattekit.interactive import Click, Session                               # doctest: +SKIP
    >>> session = Session(image, "dfimat", weights="runs/iscn/checkpoints/best.safetensors")   # doctest: +SKIP
    >>> session.round([Click(120, 200)]).alpha.shape                                   # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from mattekit.engines.dfimat_weights import read_dfimat
from mattekit.engines.gfm import pick_device
from mattekit.errors import InputError, UsageError
from mattekit.io import as_rgb
from mattekit.matte import Matte
from mattekit.matting.foreground import estimate_foreground
from mattekit.models.dfimat import make_target


@dataclass
class Canvas:
    """The network's view of an image: ``tensor`` (1, 3, H', W') 0-255, padded to multiples of 32, ``scale``
    from the image, ``inner`` (h, w) the resized image's size, ``shape`` the image's (H, W)."""

    tensor: torch.Tensor
    scale: float
    inner: tuple[int, int]
    shape: tuple[int, int]

    def to_network(self, plane: np.ndarray, interpolation: int) -> np.ndarray:
        """An image-sized plane resized and zero-padded to the network's input."""
        h, w = self.inner
        small = cv2.resize(plane, (w, h), interpolation=interpolation) if (h, w) != plane.shape[:2] else plane
        out = np.zeros(self.tensor.shape[-2:], small.dtype)
        out[:h, :w] = small
        return out

    def to_image(self, alpha: torch.Tensor) -> np.ndarray:
        """A network-sized (…, H', W') alpha cropped and resized back to the image, float32 in [0, 1]."""
        h, w = self.inner
        crop = alpha.reshape(alpha.shape[-2:])[:h, :w].float().cpu().numpy()
        if (h, w) != self.shape:
            crop = cv2.resize(crop, self.shape[::-1], interpolation=cv2.INTER_LINEAR)
        return np.clip(crop, 0, 1).astype(np.float32)


def make_canvas(image: np.ndarray, max_size: int, device: torch.device) -> Canvas:
    height, width = image.shape[:2]
    scale = min(1.0, max_size / max(height, width))
    inner = (max(1, round(height * scale)), max(1, round(width * scale)))
    small = cv2.resize(image, inner[::-1], interpolation=cv2.INTER_AREA) if scale < 1 else image
    padded = np.zeros((math.ceil(inner[0] / 32) * 32, math.ceil(inner[1] / 32) * 32, 3), np.uint8)
    padded[: inner[0], : inner[1]] = small
    tensor = torch.from_numpy(padded).permute(2, 0, 1)[None].float().to(device)
    return Canvas(tensor, scale, inner, (height, width))


def coarse_input(trimap: np.ndarray, shape) -> np.ndarray:
    """A coarse mask in [0, 1] (float32) from a uint8 trimap or mask, or a float mask."""
    trimap = np.asarray(trimap)
    if trimap.shape[:2] != tuple(shape):
        raise InputError(f"the coarse mask is {trimap.shape[1]}x{trimap.shape[0]} but the image is "
                         f"{shape[1]}x{shape[0]}.")
    return (trimap.astype(np.float32) / 255 if trimap.dtype == np.uint8 else trimap.astype(np.float32)).clip(0, 1)


class MRNEngine:
    """MRN alone: refines a coarse mask or trimap. ``max_size``: the longer side MRN works at."""

    name = "mrn"

    def __init__(self, weights=None, max_size: int = 1024, device: str = "auto", foreground: bool = True):
        if not weights:
            raise UsageError("the mrn engine needs weights (--weights FILE): a DFIMat file holding MRN, trained "
                             "with mattekit train (no DFIMat weights were ever released).")
        iscn, self.mrn = read_dfimat(weights)
        if self.mrn is None:
            raise UsageError(f"{weights} holds no MRN; give a file trained by the MRN stage.")
        self.device = pick_device(device)
        self.mrn.to(self.device)
        self.max_size, self.foreground = max_size, foreground

    @torch.inference_mode()
    def refine(self, canvas: Canvas, coarse: torch.Tensor) -> torch.Tensor:
        """MRN's alpha (1, 1, H', W') for a network-sized coarse mask."""
        return self.mrn(canvas.tensor, coarse)["alpha"]

    def matte(self, image: np.ndarray, alpha: np.ndarray) -> Matte:
        foreground = estimate_foreground(image, alpha) if self.foreground else image.astype(np.float32) / 255
        return Matte(alpha=alpha, foreground=foreground)

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> Matte:
        image = as_rgb(image)
        if trimap is None:
            raise UsageError(f"the {self.name} engine refines a coarse mask or trimap; give one (--trimap).")
        canvas = make_canvas(image, self.max_size, self.device)
        coarse = canvas.to_network(coarse_input(trimap, image.shape[:2]), cv2.INTER_LINEAR)
        alpha = self.refine(canvas, torch.from_numpy(coarse)[None, None].to(self.device))
        return self.matte(image, canvas.to_image(alpha))


@dataclass
class SessionState:
    canvas: Canvas
    features: dict


class DFIMatEngine(MRNEngine):
    """ISCN + MRN behind the Session protocol; see the module docstring."""

    name = "dfimat"

    def __init__(self, weights=None, max_size: int = 1024, device: str = "auto", foreground: bool = True):
        if not weights:
            raise UsageError("the dfimat engine needs weights (--weights ISCN_MRN.safetensors or ISCN,MRN): train "
                             "them with mattekit train (no DFIMat weights were ever released).")
        self.iscn, self.mrn = read_dfimat(weights)
        if self.iscn is None:
            raise UsageError(f"{weights} holds no ISCN; give the ISCN stage's file too (ISCN,MRN).")
        self.device = pick_device(device)
        for part in (self.iscn, self.mrn):
            if part is not None:
                part.to(self.device)
        self.max_size, self.foreground = max_size, foreground

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> Matte:
        if self.mrn is None or trimap is None:
            raise UsageError("the dfimat engine mattes from prompts (a Session, mattekit interact) or refines a "
                             "trimap with its MRN; give a trimap, or use a Session.")
        return super().predict(image, trimap)

    @torch.inference_mode()
    def prepare(self, image: np.ndarray) -> SessionState:
        canvas = make_canvas(as_rgb(image), self.max_size, self.device)
        return SessionState(canvas, self.iscn.encode(canvas.tensor))

    @torch.inference_mode()
    def round(self, image: np.ndarray, state: SessionState, given) -> Matte:
        canvas = state.canvas
        coarse = self.coarse(canvas, state.features, given)
        alpha = self.refine(canvas, coarse) if self.mrn is not None else coarse
        return self.matte(image, canvas.to_image(alpha))

    def target(self, canvas: Canvas, given):
        """The round as ISCN's ``Target`` on the network's input."""
        conflict = None if given.conflict is None else canvas.to_network(given.conflict, cv2.INTER_NEAREST)
        previous = None if given.previous is None else canvas.to_network(given.previous, cv2.INTER_LINEAR)
        return make_target(given.all_prompts, canvas.tensor.shape[-2:], canvas.scale, conflict, previous)

    def coarse(self, canvas: Canvas, features: dict, given) -> torch.Tensor:
        """ISCN's mask for the round, (1, 1, H', W') in [0, 1]."""
        out = self.iscn.decode(features, [self.target(canvas, given)])
        logits = F.interpolate(out["mask"][:, None], size=canvas.tensor.shape[-2:], mode="bilinear",
                               align_corners=False)
        return torch.sigmoid(logits)
