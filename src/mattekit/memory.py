"""Keep freed memory in the process for reuse: large CPU tensors then cost no page faults.

glibc's malloc gives every block above its mmap threshold (at most 32 MiB) fresh pages from the kernel and hands
them back when the block is freed, so each large tensor of a network pass (a 64-channel map at 400x400 is 41 MB)
is zero-filled page by page on first touch: about 130,000 page faults and a quarter of the wall time of a
GFM-TT(r34) pass at 800x800 on CPU (docs/benchmarks.md). :func:`keep_freed_memory` tells malloc to serve large
blocks from its heap and never to trim it, so the next pass reuses the same pages. The cost: the process keeps its
peak memory until it exits. Process-wide; it does nothing where the C library is not glibc.

Example:
    >>> keep_freed_memory() in (True, False)
    True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4


def keep_freed_memory() -> bool:
    """Serve large allocations from malloc's heap and keep freed memory (glibc); True when it took effect."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1))
