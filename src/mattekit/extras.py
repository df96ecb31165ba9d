"""Optional features and the pip extra that installs each: a missing one is one sentence naming the extra.

The default install holds only permissively licensed packages; each extra adds what one feature needs (see the
README's table of extras): ``rssn`` (bm3d, non-commercial licence), ``train`` (TensorBoard), ``serve`` (FastAPI,
uvicorn), ``synth`` (diffusers, transformers), ``distributed`` (Ray Data).

Example:
    >>> from mattekit.extras import require
    >>> require("train", "a_module_that_does_not_exist", feature="TensorBoard logging")
    Traceback (most recent call last):
    ...
    mattekit.errors.UsageError: TensorBoard logging needs the train extra (a_module_that_does_not_exist is missing): pip install 'mattekit[train]'.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mattekit.errors import UsageError

EXTRAS = ("rssn", "train", "serve", "synth", "distributed")


def require(extra: str, *modules: str, feature: str) -> list[ModuleType]:
    """Import ``modules`` of ``extra`` for ``feature`` (a singular noun phrase), or raise a UsageError naming the extra."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    imported = []
    for name in modules:
        try:
            imported.append(importlib.import_module(name))
        except ImportError as e:
            missing = e.name or name
            raise UsageError(f"{feature} needs the {extra} extra ({missing} is missing): "
                             f"pip install 'mattekit[{extra}]'.") from None
    return imported
