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


def check_options(name: str, options: dict) -> type:
    """The class of engine ``name``, after checking that it takes ``options`` (without building it; an engine
    whose class takes ``**options`` checks them itself when built)."""
    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}; choose one of: {', '.join(sorted(ENGINES))}.")
    module, cls = ENGINES[name].split(":")
    engine_class = getattr(importlib.import_module(module), cls)
    parameters = inspect.signature(engine_class).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        known = sorted(set(parameters) - {"weights"})
        for key in options:
            if key not in parameters:
                raise UsageError(f"the {name} engine has no option {key!r}; its options: {', '.join(known)}.")
    return engine_class


def load_engine(name: str = "default", weights: str | None = None, **options) -> Engine:
    """Build the engine called ``name``; ``weights`` is a local file that overrides its weight source.
    The numerical kernels are compiled first where needed, with a one-line notice (``mattekit.kernels``)."""
    engine_class = check_options(name, options)
    kernels.prepare()
    return engine_class(weights=weights, **options)


@lru_cache(maxsize=4)
def shared_engine(name: str) -> Engine:
    """The engine ``name`` with its default weights and options, built once per process and reused."""
    return load_engine(name)
