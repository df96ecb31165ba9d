"""Engines: one adapter per matting method behind one interface, chosen by name.

An engine is built with ``load_engine(name, weights=None, **options)`` and answers
``engine.predict(image, trimap=None) -> Matte`` for a uint8 RGB HxWx3 image and an optional uint8 0/128/255 trimap.
Engines that serve interactive sessions also have ``prepare`` and ``round`` (``mattekit.interactive.session``).
Engines are imported only when asked for, so ``import mattekit`` stays light.

Example:
    >>> sorted(ENGINES)[:1]
    ['default']
"""

from __future__ import annotations

import importlib
import inspect
from functools import lru_cache
from typing import Protocol

import numpy as np

from mattekit import kernels
from mattekit.errors import UsageError
from mattekit.matte import Matte

# name -> "module:class"; the class takes (weights=None, **options).
ENGINES: dict[str, str] = {
    "default": "mattekit.engines.default:DefaultEngine",
    "dfimat": "mattekit.engines.dfimat:DFIMatEngine",
    "gfm": "mattekit.engines.gfm:GFMEngine",
    "interactive": "mattekit.engines.interactive:InteractiveEngine",
    "mrn": "mattekit.engines.dfimat:MRNEngine",
    "grabcut-cf": "mattekit.engines.classical:GrabCutClosedForm",
    "levin-scribbles": "mattekit.engines.classical:LevinScribbles",
}


class Engine(Protocol):
    """What every engine offers."""

    name: str

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> Matte: ...


def engine_class(name: str) -> type:
    """The class of engine ``name`` (its module imported, with what it needs: PyTorch for some)."""
    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}; choose one of: {', '.join(sorted(ENGINES))}.")
    module, cls = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def check_options(name: str, options: dict) -> None:
    """Check that engine ``name`` exists and takes ``options``, without building it (an engine whose class takes
    ``**options`` checks them itself when built); without options its module is not even imported.

    >>> check_options("default", {"backbone": "r34"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    mattekit.errors.UsageError: the default engine has no option 'backbone'; its options: ...
    """
    if name not in ENGINES or options:
        parameters = inspect.signature(engine_class(name)).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            known = sorted(set(parameters) - {"weights"})
            for key in options:
                if key not in parameters:
                    raise UsageError(f"the {name} engine has no option {key!r}; its options: {', '.join(known)}.")


def load_engine(name: str = "default", weights: str | None = None, **options) -> Engine:
    """Build the engine called ``name``; ``weights`` is a local file that overrides its weight source.
    The numerical kernels are compiled first where needed, with a one-line notice (``mattekit.kernels``)."""
    check_options(name, options)
    kernels.prepare()
    return engine_class(name)(weights=weights, **options)


def check_onnx_size(height: int, width: int) -> None:
    """The input size of an exported ONNX graph: positive multiples of 32 (the networks' strides)."""
    if height % 32 or width % 32 or height < 32 or width < 32:
        raise UsageError(f"the ONNX input size must be positive multiples of 32, not {height}x{width}.")


def built(engine):
    """``engine`` itself, or the engine it builds when it is a function (``lambda: load_engine("gfm")``), so a
    caller can take either and build it only once its inputs have been checked."""
    return engine() if callable(engine) and not hasattr(engine, "predict") else engine


@lru_cache(maxsize=4)
def shared_engine(name: str) -> Engine:
    """The engine ``name`` with its default weights and options, built once per process and reused."""
    return load_engine(name)
