"""mattekit: image matting — soft foregrounds from photos, automatically or guided by a person.

Example:
    >>> import mattekit                                     # doctest: +SKIP
    >>> m = mattekit.matte("cat.jpg")                       # doctest: +SKIP
    >>> m.alpha.shape, m.cutout().shape                     # doctest: +SKIP
    ((300, 451), (300, 451, 4))
"""

from __future__ import annotations

from mattekit.engines import load_engine, shared_engine
from mattekit.errors import InputError, MattekitError, UsageError, WeightsError
from mattekit.io import as_rgb, check_trimap
from mattekit.matte import Matte

__all__ = ["matte", "Matte", "load_engine", "MattekitError", "InputError", "UsageError", "WeightsError"]
__version__ = "0.1.0"



def matte(image, trimap=None, engine: str | None = None, prompts=None) -> Matte:
    """Matte ``image`` (a path, PIL image or uint8 array). ``trimap`` (path or array, 0/128/255) guides it, or
    ``prompts`` (a list of ``mattekit.interactive`` Click, Scribble, Box and Text) run as one interactive round.

    The engine (``default``, or ``interactive`` with prompts) is built once per name and reused by later calls.

    >>> from mattekit.interactive import Box                                     # doctest: +SKIP
    >>> mattekit.matte("people.jpg", prompts=[Box(40, 10, 300, 470)]).alpha      # doctest: +SKIP
    """
    if prompts is not None:
        if trimap is not None:
            raise UsageError("give either a trimap or prompts, not both.")
        from mattekit.interactive import Session

        return Session(image, engine or "interactive").round(prompts)
    rgb = as_rgb(image)
    if trimap is not None:
        trimap = check_trimap(as_rgb(trimap)[..., 0], rgb.shape[:2], "the trimap")
    return shared_engine(engine or "default").predict(rgb, trimap)
