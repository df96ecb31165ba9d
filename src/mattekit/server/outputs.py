"""What the server sends back: PNG bytes of an alpha, a cut-out, a composite or a conflict map.

The alpha is 8-bit grey (0 background, 255 foreground); the cut-out RGBA with straight alpha; the composite RGB
over a colour; the conflict map 8-bit grey holding DFIMat's values 0 (no conflict), 1 (the person wants foreground
where the previous round said background) and 2 (the reverse), as ``mattekit.interactive.conflict``.

Example:
    >>> import numpy as np
    >>> from mattekit.matte import Matte
    >>> matte = Matte(np.ones((2, 2), np.float32), np.zeros((2, 2, 3), np.float32))
    >>> render(matte, "alpha", "white")[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
"""

from __future__ import annotations

from io import BytesIO

import numpy as np
from PIL import Image

from mattekit.errors import InputError
from mattekit.io import parse_colour
from mattekit.matte import Matte, to_uint8

OUTPUTS = ("alpha", "cutout", "composite")


def png(array: np.ndarray) -> bytes:
    """A uint8 HxW, HxWx3 or HxWx4 array as PNG bytes."""
    buffer = BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def background_colour(spec: str) -> tuple[int, int, int]:
    """The RGB triple of a ``background=`` value; InputError if it is not a colour (files are not read)."""
    colour = parse_colour(spec)
    if colour is None:
        raise InputError(f"background {spec!r} is not a colour (a name, #rrggbb or r,g,b).")
    return colour


def render(matte: Matte, output: str, background: str) -> bytes:
    """``matte`` as the PNG of ``output`` (one of OUTPUTS); ``background`` is the composite's colour."""
    if output == "alpha":
        return png(to_uint8(matte.alpha))
    if output == "cutout":
        return png(matte.cutout())
    return png(matte.composite(background_colour(background)))
