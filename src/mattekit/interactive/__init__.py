"""Interactive matting: prompts, sessions over rounds, the conflict map, and simulated users.

Example:
    >>> from mattekit.interactive import Box, Click, Scribble, Text
    >>> Box(0, 0, 10, 10), Text("the person on the left")
    (Box(x0=0.0, y0=0.0, x1=10.0, y1=10.0), Text(text='the person on the left'))
"""

from mattekit.interactive.conflict import conflict_map
from mattekit.interactive.prompts import Box, Click, Prompt, Scribble, Text
from mattekit.interactive.session import RoundInput, Session

__all__ = ["Box", "Click", "Prompt", "RoundInput", "Scribble", "Session", "Text", "conflict_map"]
