"""A content-addressed store of decoded and derived pixels: ``.npy`` files read back as memory maps.

Training reads the same photos every epoch, and the slow derived images (BM3D denoising takes minutes per HD
image, foreground colours seconds) must be computed once. The store keys every array by content: a file's key is
the sha256 of its bytes, a derived array's key the sha256 of its recipe (input keys plus method and parameters).
Arrays are saved uncompressed, so reading one back is a memory map and reading a crop of it touches only the crop's
rows: each file is decoded once, ever, by every worker. Writes are atomic (a temporary file renamed into place),
so parallel workers and interrupted runs never leave a half-written array.

The store lives in ``<mattekit cache>/pixels`` (``$MATTEKIT_CACHE`` or the user cache folder) unless a folder is
given. A 1080p RGB image takes 5–6 MB there.

Example:
    >>> import tempfile, numpy as np
    >>> store = PixelStore(tempfile.mkdtemp())
    >>> key = derived_key("demo", "v1")
    >>> store.derive(key, lambda: np.arange(6, dtype=np.uint8).reshape(2, 3)).tolist()
    [[0, 1, 2], [3, 4, 5]]
    >>> store.get(key)[1, 2]
    np.uint8(5)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from mattekit import io, weights

_FILE_KEYS: dict[tuple[str, int, int], str] = {}


def file_key(path: str | os.PathLike) -> str:
    """The sha256 of the bytes of ``path``, remembered for the process while its size and mtime stay the same."""
    path = Path(path)
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _FILE_KEYS:
        _FILE_KEYS[memo] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _FILE_KEYS[memo]


def derived_key(*parts: str) -> str:
    """The key of an array computed from ``parts`` (input keys, method names, parameters).

    >>> derived_key("a", "b") == derived_key("a", "b") != derived_key("a", "c")
    True
    """
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class PixelStore:
    """Arrays by key in ``folder`` (default: the mattekit cache's ``pixels`` folder).

    The last ``OPEN`` arrays read stay mapped in the process, so reading them again costs no system call.
    """

    OPEN = 512

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else weights.cache_dir() / "pixels"
        self._open: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict:  # worker processes get the folder, not the mapped arrays
        return {"folder": self.folder, "_open": {}}

    def __repr__(self) -> str:
        return f"PixelStore({str(self.folder)!r})"

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """The array stored under ``key`` as a read-only memory map, or None."""
        if key in self._open:
            return self._open[key]
        path = self.path(key)
        if not path.is_file():
            return None
        if len(self._open) >= self.OPEN:
            del self._open[next(iter(self._open))]
        self._open[key] = np.load(path, mmap_mode="r")
        return self._open[key]

    def put(self, key: str, array: np.ndarray) -> np.ndarray:
        """Store ``array`` under ``key`` atomically and return it memory-mapped."""
        path = self.path(key)
        with io.atomic_path(path) as tmp:
            np.save(tmp, np.ascontiguousarray(array))
        return self.get(key)

    def derive(self, key: str, compute) -> np.ndarray:
        """The array under ``key``, computed by ``compute()`` and stored the first time."""
        found = self.get(key)
        return found if found is not None else self.put(key, compute())

    def image(self, path: str | os.PathLike) -> np.ndarray:
        """``path`` decoded once (``mattekit.io.load_image``: uint8 RGB HxWx3) and memory-mapped afterwards."""
        return self.derive(derived_key(file_key(path), "rgb8"), lambda: io.load_image(path))

    def alpha(self, path: str | os.PathLike) -> np.ndarray:
        """The alpha matte at ``path`` as uint8 HxW (0–255), decoded once and memory-mapped afterwards."""
        return self.derive(derived_key(file_key(path), "alpha8"), lambda: to_uint8(io.load_alpha(path)))


def to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Float alpha in [0, 1] as uint8 0–255 (rounded).

    >>> to_uint8(np.array([0.0, 0.5, 1.0])).tolist()
    [0, 128, 255]
    """
    return np.round(np.clip(alpha, 0.0, 1.0) * 255.0).astype(np.uint8)
