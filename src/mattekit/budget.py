"""Memory budgets: refuse an image that would not fit in memory, instead of letting the kernel kill the process.

Each engine states what it needs, measured with ``bench/robustness.py``: a fixed part (models, runtimes) and a
part per megapixel of the image it mattes. Before an image is matted, :func:`check_fits` compares that estimate
with the limit: ``--max-memory`` when given, else the memory the system has available now (``MemAvailable`` of
``/proc/meminfo``; no check where that is unknown).

Example:
    >>> check_fits("tiny.png", (2, 4000), Budget(base=1 << 30, per_megapixel=80 << 20), limit=2 << 30)
    >>> check_fits("huge.png", (10000, 10000), Budget(base=1 << 30, per_megapixel=80 << 20), limit=2 << 30)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mattekit.errors.InputError: huge.png (10000x10000) would need about 8.8 GiB of memory to matte, more than ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mattekit.errors import InputError

GIB = 1 << 30


@dataclass(frozen=True)
class Budget:
    """Bytes an engine needs: ``base`` once, plus ``per_megapixel`` for each million pixels of the image."""

    base: int
    per_megapixel: int

    def need(self, shape: tuple[int, int]) -> int:
        return self.base + int(self.per_megapixel * shape[0] * shape[1] / 1e6)


DEFAULT_BUDGET = Budget(base=GIB, per_megapixel=100 << 20)


def available_memory() -> int | None:
    """Bytes this process can use now without swapping: what it holds plus the system's ``MemAvailable`` (Linux),
    else None."""
    meminfo, statm = Path("/proc/meminfo"), Path("/proc/self/statm")
    if not (meminfo.is_file() and statm.is_file()):
        return None
    held = int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return held + int(line.split()[1]) * 1024
    return None


def check_fits(name: str, shape: tuple[int, int], budget: Budget, limit: int | None = None) -> None:
    """Raise InputError when matting an image of ``shape`` (H, W) would need more than ``limit`` bytes
    (default: the memory available now)."""
    limit = available_memory() if limit is None else limit
    need = budget.need(shape)
    if limit is not None and need > limit:
        raise InputError(f"{name} ({shape[1]}x{shape[0]}) would need about {need / GIB:.1f} GiB of memory to matte, "
                         f"more than the {limit / GIB:.1f} GiB available; shrink it with --max-size or free memory "
                         "(--max-memory sets the limit).")
