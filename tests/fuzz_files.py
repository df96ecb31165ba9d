"""Seeded fuzzed image files: every format and mode Pillow writes, extreme sizes, bit flips, truncations, splices.

Used by ``tests/test_fuzz_predict.py`` (a small-image set) and ``bench/fuzz_predict.py`` (a larger one).

Example:
    >>> import tempfile, pathlib
    >>> files = generate(pathlib.Path(tempfile.mkdtemp()), count=40, seed=0)
    >>> len(files), files[0].name
    (40, '000-png-RGB-1x1.png')
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

# (format, suffix, modes it can store)
FORMATS = [
    ("PNG", ".png", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]),
    ("JPEG", ".jpg", ["L", "RGB", "CMYK"]),
    ("BMP", ".bmp", ["1", "L", "P", "RGB"]),
    ("TIFF", ".tif", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]),
    ("WEBP", ".webp", ["RGB", "RGBA"]),
    ("GIF", ".gif", ["L", "P"]),
    ("TGA", ".tga", ["L", "LA", "P", "RGB", "RGBA"]),
    ("PPM", ".ppm", ["1", "L", "RGB"]),
    ("ICO", ".ico", ["RGBA"]),
]
EXTREME_SIZES = [(1, 1), (4000, 2), (2, 4000), (1, 7), (7, 1), (3, 3), (2, 1)]  # (width, height)
CORRUPTIONS = ("none", "bitflip", "truncate", "splice", "header")


def _pixels(rng: np.random.Generator, mode: str, size: tuple[int, int]) -> Image.Image:
    """A picture with structure (a disc over a gradient, noise) in ``mode``."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    disc = ((xs - width / 2) ** 2 + (ys - height / 2) ** 2) < (min(width, height) / 3) ** 2
    base = np.stack([xs * 255 / max(width - 1, 1), ys * 255 / max(height - 1, 1), disc * 255.0], axis=-1)
    rgb = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    im = Image.fromarray(rgb)
    if mode == "RGBA":
        im.putalpha(Image.fromarray(np.where(disc, 255, rng.integers(0, 256)).astype(np.uint8)))
        return im
    if mode in ("I;16", "I", "F"):
        grey = np.asarray(im.convert("L"), np.float64)
        values = {"I;16": (grey * 257).astype(np.uint16), "I": (grey * 1000).astype(np.int32),
                  "F": (grey / 255).astype(np.float32)}[mode]
        return Image.fromarray(values)
    return im.convert(mode)


def _encode(im: Image.Image, image_format: str) -> bytes:
    out = io.BytesIO()
    im.save(out, format=image_format)
    return out.getvalue()


def _corrupt(rng: np.random.Generator, data: bytes, kind: str, other: bytes) -> bytes:
    buffer = bytearray(data)
    if kind == "bitflip":
        for position in rng.integers(0, len(buffer), size=int(rng.integers(1, 9))):
            buffer[position] ^= 1 << int(rng.integers(0, 8))
    elif kind == "truncate":
        buffer = buffer[: int(rng.integers(1, max(2, len(buffer))))]
    elif kind == "splice":  # a run of bytes of another file pasted over the middle
        start, length = int(rng.integers(0, len(buffer))), int(rng.integers(1, 64))
        piece = other[int(rng.integers(0, max(1, len(other) - length))):][:length]
        buffer[start:start + len(piece)] = piece
    elif kind == "header":  # the first bytes scrambled
        count = min(len(buffer), 32)
        buffer[:count] = rng.integers(0, 256, count, dtype=np.uint8).tobytes()
    return bytes(buffer)


def generate(folder: Path, count: int, seed: int = 0, max_side: int = 48) -> list[Path]:
    """Write ``count`` fuzzed files to ``folder``: each of ``EXTREME_SIZES`` once, then random formats, modes and
    sizes up to ``max_side``; two in five files are intact, the others corrupted one of four ways. Returns paths."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, previous = [], b""
    for index in range(count):
        image_format, suffix, modes = FORMATS[index % len(FORMATS)] if index >= len(EXTREME_SIZES) else FORMATS[0]
        mode = modes[int(rng.integers(0, len(modes)))] if index >= len(EXTREME_SIZES) else "RGB"
        if index < len(EXTREME_SIZES):
            size, kind = EXTREME_SIZES[index], "none"
        else:
            size = (int(rng.integers(1, max_side + 1)), int(rng.integers(1, max_side + 1)))
            kind = CORRUPTIONS[0] if rng.random() < 0.4 else CORRUPTIONS[int(rng.integers(1, len(CORRUPTIONS)))]
        if image_format == "ICO":
            size = (max(size[0], 16), max(size[1], 16))
        data = _encode(_pixels(rng, mode, size), image_format)
        fuzzed = _corrupt(rng, data, kind, previous) if kind != "none" else data
        previous = data
        path = folder / f"{index:03d}-{image_format.lower()}-{mode.replace(';', '')}-{size[0]}x{size[1]}{suffix}"
        path.write_bytes(fuzzed)
        paths.append(path)
    return paths
