"""The numerical kernels mattekit runs through numba (pymatting's and its own), compiled once per installation.

pymatting declares its kernels with explicit signatures and ``cache=True``, so numba compiles all of them when
pymatting is first imported (about a minute of CPU) and loads them from its cache afterwards. ``make setup``
compiles them (``python -m mattekit.kernels``). Every use of pymatting in mattekit goes through :func:`prepare`,
which tells the user in one line before a compile; commands that spread work over processes call it once before
starting them, so the compile, and its notice, happen once.

Whether the kernels are compiled is read from numba's cache: every kernel of every pymatting module must have its
index file (``<module>.<kernel>-<line>.py311.nbi``) in the folder numba caches that module in, found by numba's own
rules (:func:`cache_folder`). A first compile that was interrupted therefore still counts as not compiled. Not
seen: index files left by another version of pymatting's sources (numba recompiles those silently), and under
``torchrun`` each process that finds the cache empty says so.

mattekit's own kernels (``OWN_KERNELS``: the GFM metrics' Grad filter, Conn sweep and joint counts) are declared
and checked the same way; each module is imported through ``prepare(module)`` when first used, and ``python -m
mattekit.kernels`` compiles them too (a few seconds).

Example:
    >>> compiled() in (True, False)
    True
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

NOTICE = "mattekit: compiling numerical kernels; this happens once and takes about a minute."
KERNEL_MARK = "cache=True"  # how pymatting (and mattekit) declare each cached numba kernel
OWN_KERNELS = (  # mattekit's own numba kernels (the GFM metrics)
    "mattekit.evaluation.gradient_kernel",
    "mattekit.evaluation.connectivity_kernel",
    "mattekit.evaluation.histogram_kernel",
)


def cache_folder(source: Path) -> Path:
    """The folder numba caches the kernels of the modules in folder ``source`` in, by numba's locators in their
    order: under ``$NUMBA_CACHE_DIR`` (``<folder name>_<sha1 of its path>``), else the module's ``__pycache__``
    when it can be written, else the user-wide cache."""
    source = Path(os.path.abspath(source))
    subpath = f"{source.name}_{hashlib.sha1(str(source).encode()).hexdigest()}"
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"]) / subpath
    in_tree = source / "__pycache__"
    if os.access(in_tree if in_tree.is_dir() else source, os.W_OK):
        return in_tree
    from numba.misc.appdirs import AppDirs

    return Path(AppDirs(appname="numba", appauthor=False).user_cache_dir) / subpath


def kernel_sources(module: str = "pymatting") -> dict[Path, int]:
    """The source files of ``module`` (of all its modules for a package) that declare kernels, with how many each
    declares."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return {}
    folders = spec.submodule_search_locations
    files = [path for folder in folders for path in Path(folder).rglob("*.py")] if folders else [Path(spec.origin)]
    counts = {path: path.read_text(encoding="utf-8").count(KERNEL_MARK) for path in files}
    return {path: count for path, count in counts.items() if count}


def missing(module: str = "pymatting") -> list[Path]:
    """The source files of ``module`` some of whose kernels numba's cache lacks (for this Python version)."""
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    return [path for path, count in kernel_sources(module).items()
            if len(list(cache_folder(path.parent).glob(f"{path.stem}.*.{tag}.nbi"))) < count]


def compiled(module: str = "pymatting") -> bool:
    """Whether numba's cache holds every kernel of ``module`` (or the module is imported already)."""
    return module in sys.modules or not missing(module)


def prepare(module: str = "pymatting") -> ModuleType:
    """``module`` (pymatting, or one of ``OWN_KERNELS``), imported; when its kernels must be compiled first, the
    user is told on stderr before the wait.

    >>> prepare().estimate_foreground_ml.__name__
    'estimate_foreground_ml'
    """
    if not compiled(module):
        print(NOTICE, file=sys.stderr, flush=True)
    return importlib.import_module(module)  # compiles the kernels or loads them from numba's cache


if __name__ == "__main__":
    if not all(compiled(name) for name in ("pymatting", *OWN_KERNELS)):
        print(NOTICE, file=sys.stderr, flush=True)
    for name in ("pymatting", *OWN_KERNELS):
        importlib.import_module(name)
