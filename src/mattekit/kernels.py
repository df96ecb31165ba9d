"""The numerical kernels mattekit runs through pymatting, compiled by numba once per installation.

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

NOTICE = "mattekit: compiling numerical kernels; this happens once and takes about a minute."
KERNEL_MARK = "cache=True"  # how pymatting declares each of its cached numba kernels


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


def kernel_sources() -> dict[Path, int]:
    """pymatting's modules that declare kernels, with how many each declares."""
    spec = importlib.util.find_spec("pymatting")
    folders = [Path(folder) for folder in (spec.submodule_search_locations or [])] if spec else []
    counts = {path: path.read_text(encoding="utf-8").count(KERNEL_MARK) for folder in folders
              for path in folder.rglob("*.py")}
    return {path: count for path, count in counts.items() if count}


def missing() -> list[Path]:
    """pymatting's modules some of whose kernels numba's cache lacks (for this Python version)."""
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    return [path for path, count in kernel_sources().items()
            if len(list(cache_folder(path.parent).glob(f"{path.stem}.*.{tag}.nbi"))) < count]


def compiled() -> bool:
    """Whether numba's cache holds every kernel of pymatting (or pymatting is imported already)."""
    return "pymatting" in sys.modules or not missing()


def prepare():
    """pymatting, imported; when its kernels must be compiled first, the user is told on stderr before the wait.

    >>> prepare().estimate_foreground_ml.__name__
    'estimate_foreground_ml'
    """
    if not compiled():
        print(NOTICE, file=sys.stderr, flush=True)
    import pymatting  # compiles the kernels or loads them from numba's cache

    return pymatting


if __name__ == "__main__":
    prepare()
