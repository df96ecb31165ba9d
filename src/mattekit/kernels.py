"""The numerical kernels mattekit runs through pymatting, compiled by numba once per installation.

pymatting declares its kernels with explicit signatures and ``cache=True``, so numba compiles all of them when
pymatting is first imported (about a minute on a laptop CPU) and loads them from its cache afterwards. ``make
setup`` compiles them (``python -m mattekit.kernels``); when that has not happened, :func:`prepare` tells the user
in one line before the wait. Engines call it when they are built, after the inputs have been checked.

Example:
    >>> compiled() in (True, False)
    True
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

NOTICE = "mattekit: compiling numerical kernels; this happens once and takes about a minute."


def _cache_folders() -> list[Path]:
    """Where numba keeps the compiled kernels of pymatting: $NUMBA_CACHE_DIR, else beside pymatting's sources."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return [Path(os.environ["NUMBA_CACHE_DIR"])]
    spec = importlib.util.find_spec("pymatting")
    return [Path(folder) for folder in (spec.submodule_search_locations or [])] if spec else []


def compiled() -> bool:
    """Whether numba's cache holds pymatting's compiled kernels (or pymatting is imported already)."""
    if "pymatting" in sys.modules:
        return True
    return any(next(folder.rglob("*boxfilter*.nbi"), None) is not None for folder in _cache_folders()
               if folder.is_dir())


def prepare() -> None:
    """Import pymatting, telling the user on stderr first when its kernels are not compiled yet."""
    if not compiled():
        print(NOTICE, file=sys.stderr, flush=True)
    import pymatting  # noqa: F401  (compiles the kernels or loads them from numba's cache)


if __name__ == "__main__":
    prepare()
