"""What a person tells an interactive engine: clicks, scribbles, boxes and sentences, in image pixel coordinates.

Coordinates are those of the input image: ``x`` is the column and ``y`` the row, both counted from the top-left
pixel (0, 0), floats allowed. ``Click`` and ``Scribble`` are positive (this is the object) or negative (this is
not); a ``Box`` says the object lies inside it (x0, y0 the top-left corner, x1, y1 the bottom-right one, both
included); a ``Text`` names it ("the woman on the left").

Every prompt becomes pixels the same way for every engine (``rasterise``): a click is a disk of radius
``CLICK_RADIUS``, a scribble a polyline of width ``SCRIBBLE_WIDTH``, a box its filled rectangle. The JSON form
(``to_dict`` / ``from_dict``) is the one of ``mattekit interact`` and the HTTP API.

Example:
    >>> p = from_dict({"type": "click", "x": 3, "y": 2})
    >>> p, to_dict(p)
    (Click(x=3.0, y=2.0, positive=True), {'type': 'click', 'x': 3.0, 'y': 2.0, 'positive': True})
    >>> rasterise(Click(6, 0), (1, 14)).astype(int).tolist()
    [[0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]]
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import cv2
import numpy as np

from mattekit.errors import UsageError

CLICK_RADIUS = 5  # pixels: RITM's disk encoding of a click (norm_radius 5)
SCRIBBLE_WIDTH = 5  # pixels: the width of a drawn stroke
MAX_TEXT = 500  # characters


@dataclass(frozen=True)
class Click:
    """One point on the object (``positive``) or off it."""

    x: float
    y: float
    positive: bool = True

    def __post_init__(self):
        _coordinates(self, "a click", [(self.x, self.y)])
        _floats(self, "x", "y")


@dataclass(frozen=True)
class Scribble:
    """A stroke through ``points`` [(x, y), ...] on the object (``positive``) or off it."""

    points: tuple = field(default=())
    positive: bool = True

    def __post_init__(self):
        points = _pairs(self.points)
        if not points:
            raise UsageError("a scribble needs at least one point; this one is empty.")
        _coordinates(self, "a scribble", points)
        object.__setattr__(self, "points", tuple((float(x), float(y)) for x, y in points))
        _floats(self)


@dataclass(frozen=True)
class Box:
    """The object lies inside the rectangle from (x0, y0) to (x1, y1), corners included."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self):
        _coordinates(self, "a box", [(self.x0, self.y0), (self.x1, self.y1)])
        _floats(self, "x0", "y0", "x1", "y1")
        if self.x1 - self.x0 < 1 or self.y1 - self.y0 < 1:
            raise UsageError(f"a box needs x1 > x0 and y1 > y0 (at least one pixel each way); got "
                             f"({self.x0:g}, {self.y0:g}) to ({self.x1:g}, {self.y1:g}).")


@dataclass(frozen=True)
class Text:
    """A sentence naming the object, e.g. "the person on the left"."""

    text: str

    def __post_init__(self):
        if not isinstance(self.text, str) or not self.text.strip():
            raise UsageError("a text prompt needs a sentence; this one is empty.")
        if len(self.text) > MAX_TEXT:
            raise UsageError(f"a text prompt is at most {MAX_TEXT} characters; this one has {len(self.text)}.")


Prompt = Click | Scribble | Box | Text
VISUAL = (Click, Scribble, Box)


def _pairs(points) -> list:
    if isinstance(points, (str, bytes)):
        raise UsageError("scribble points must be a list of [x, y] pairs.")
    try:
        pairs = [tuple(p) for p in points]
    except TypeError:
        raise UsageError("scribble points must be a list of [x, y] pairs.") from None
    if any(len(p) != 2 for p in pairs):
        raise UsageError("scribble points must be a list of [x, y] pairs.")
    return pairs


def _coordinates(prompt, what: str, points) -> None:
    for x, y in points:
        for value in (x, y):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise UsageError(f"{what} needs finite numbers for its coordinates, not {value!r}.")
    if not isinstance(getattr(prompt, "positive", True), (bool, np.bool_)):
        raise UsageError(f"{what}'s 'positive' must be true or false.")


def _floats(prompt, *names: str) -> None:
    for name in names:
        object.__setattr__(prompt, name, float(getattr(prompt, name)))
    if hasattr(prompt, "positive"):
        object.__setattr__(prompt, "positive", bool(prompt.positive))


def check_inside(prompt: Prompt, shape: tuple[int, int]) -> None:
    """UsageError unless every coordinate of ``prompt`` lies inside an image of ``shape`` (H, W)."""
    height, width = shape[:2]
    points = {Click: lambda p: [(p.x, p.y)], Scribble: lambda p: list(p.points),
              Box: lambda p: [(p.x0, p.y0), (p.x1, p.y1)], Text: lambda p: []}[type(prompt)](prompt)
    for x, y in points:
        if not (0 <= x <= width - 1 and 0 <= y <= height - 1):
            raise UsageError(f"{describe(prompt)} has the point ({x:g}, {y:g}) outside the {width}x{height} "
                             f"image (x in 0..{width - 1}, y in 0..{height - 1}).")


def describe(prompt: Prompt) -> str:
    """A few words naming ``prompt`` for messages, e.g. "a negative click"."""
    kind = type(prompt).__name__.lower()
    if isinstance(prompt, (Click, Scribble)):
        return f"a {'positive' if prompt.positive else 'negative'} {kind}"
    return f"a {kind}"


def rasterise(prompt: Prompt, shape: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """The pixels ``prompt`` covers (bool HxW) on an image of ``shape`` (H, W) that is ``scale`` times the
    prompt's image (empty for text). Disk radius and stroke width scale too, but stay at least one pixel."""
    height, width = shape[:2]
    canvas = np.zeros((height, width), np.uint8)
    if isinstance(prompt, Click):
        radius = max(1, round(CLICK_RADIUS * scale))
        cv2.circle(canvas, (round(prompt.x * scale), round(prompt.y * scale)), radius, 1, thickness=-1)
    elif isinstance(prompt, Scribble):
        points = np.round(np.array(prompt.points) * scale).astype(np.int32).reshape(-1, 1, 2)
        thickness = max(1, round(SCRIBBLE_WIDTH * scale))
        cv2.polylines(canvas, [points], False, 1, thickness=thickness)
        cv2.circle(canvas, tuple(int(v) for v in points[0, 0]), max(1, thickness // 2), 1, thickness=-1)
    elif isinstance(prompt, Box):
        x0, y0 = round(prompt.x0 * scale), round(prompt.y0 * scale)
        x1, y1 = round(prompt.x1 * scale), round(prompt.y1 * scale)
        canvas[max(0, y0):y1 + 1, max(0, x0):x1 + 1] = 1
    return canvas.astype(bool)


def label_masks(prompts, shape: tuple[int, int], scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative) bool HxW masks of the clicks and scribbles among ``prompts``."""
    positive = np.zeros(shape[:2], bool)
    negative = np.zeros(shape[:2], bool)
    for prompt in prompts:
        if isinstance(prompt, (Click, Scribble)):
            (positive if prompt.positive else negative)[rasterise(prompt, shape, scale)] = True
    return positive, negative


_FIELDS = {"click": (Click, ("x", "y"), ("positive",)), "scribble": (Scribble, ("points",), ("positive",)),
           "box": (Box, ("x0", "y0", "x1", "y1"), ()), "text": (Text, ("text",), ())}


def from_dict(data) -> Prompt:
    """A prompt from its JSON object: ``{"type": "click", "x": 10, "y": 20, "positive": true}``,
    ``{"type": "scribble", "points": [[x, y], ...], "positive": false}``,
    ``{"type": "box", "x0": 5, "y0": 5, "x1": 90, "y1": 120}`` or ``{"type": "text", "text": "..."}``."""
    if not isinstance(data, dict):
        raise UsageError(f"a prompt must be a JSON object with a 'type', not {type(data).__name__}.")
    kind = data.get("type")
    if kind not in _FIELDS:
        raise UsageError(f"a prompt's 'type' must be one of {', '.join(_FIELDS)}, not {kind!r}.")
    cls, required, optional = _FIELDS[kind]
    missing = [name for name in required if name not in data]
    if missing:
        raise UsageError(f"a {kind} prompt needs {', '.join(repr(m) for m in missing)}.")
    unknown = sorted(set(data) - {"type", *required, *optional})
    if unknown:
        raise UsageError(f"a {kind} prompt has no field {unknown[0]!r}; its fields: "
                         f"{', '.join(required + optional)}.")
    return cls(**{name: data[name] for name in required + optional if name in data})


def to_dict(prompt: Prompt) -> dict:
    """The JSON object of ``prompt`` (the inverse of ``from_dict``)."""
    kind = type(prompt).__name__.lower()
    _, required, optional = _FIELDS[kind]
    values = {name: getattr(prompt, name) for name in required + optional}
    if "points" in values:
        values["points"] = [list(p) for p in values["points"]]
    return {"type": kind, **values}


def parse_rounds(data) -> list[list[Prompt]]:
    """Rounds of prompts from JSON data (a list of rounds, each a list of prompt objects); a mistake is one
    UsageError sentence naming the round and the prompt (both counted from 1)."""
    if not isinstance(data, list) or not data:
        raise UsageError("the prompts must be a JSON list of rounds, each a list of prompt objects.")
    rounds = []
    for r, items in enumerate(data, 1):
        if not isinstance(items, list) or not items:
            raise UsageError(f"round {r} must be a non-empty list of prompt objects.")
        rounds.append([_parse_one(item, r, i) for i, item in enumerate(items, 1)])
    return rounds


def _parse_one(item, round_number: int, index: int) -> Prompt:
    try:
        return from_dict(item)
    except UsageError as e:
        raise UsageError(f"round {round_number}, prompt {index}: {e}") from None
