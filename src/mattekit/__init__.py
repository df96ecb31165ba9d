"""mattekit: image matting — soft foregrounds from photos, automatically or guided by a person.

Example:
    >>> import mattekit                                     # doctest: +SKIP
    >>> m = mattekit.matte("cat.jpg")                       # doctest: +SKIP
    >>> m.alpha.shape, m.cutout().shape                     # doctest: +SKIP
    ((300, 451), (300, 451, 4))
"""

from __future__ import annotations

from functools import lru_cache

from mattekit.engines import load_engine
from mattekit.errors import InputError, MattekitError, UsageError, WeightsError
from mattekit.io import as_rgb, check_trimap
from mattekit.matte import Matte

__all__ = ["matte", "Matte", "load_engine", "MattekitError", "InputError", "UsageError", "WeightsError"]
__version__ = "0.1.0"


@lru_cache(maxsize=4)
def _cached_engine(name: str):
    return load_engine(name)


def matte(image, trimap=None, engine: str = "default") -> Matte:
    """Matte ``image`` (a path, PIL image or uint8 array); ``trimap`` (path or array, 0/128/255) guides it.

    The engine is built once per name and reused by later calls.
    """
    rgb = as_rgb(image)
    if trimap is not None:
        trimap = check_trimap(as_rgb(trimap)[..., 0], rgb.shape[:2], "the trimap")
    return _cached_engine(engine).predict(rgb, trimap)
