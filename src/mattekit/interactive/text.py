"""Text prompts without a vision-language model: a sentence becomes a category and a position, then an instance.

DFIMat (Wang et al., "DFIMat: Decoupled Flexible Interactive Matting", arXiv:2410.09788, §3.1) grounds a sentence
with a learned text encoder and decoder. Offline, with no trained weights, a sentence can only pick among the
instances that a detector or a segmenter found, by what is visible in their boxes: which *category* ("person",
"object" for animals and things, or "any") and which *position* among the others:

- ``left``, ``right``: smallest / largest box centre x (with an ordinal: "the second from the left");
- ``middle``: the median by centre x (of an even count, the one of the two central nearer the group's middle);
- ``top``, ``bottom``: smallest / largest box centre y;
- ``largest`` (also "in front"), ``smallest`` (also "in the back"): by area;
- ``salient``: no position ("the woman", "the only dog"): the highest candidate score.

Colours, clothing, actions and relations ("the man in red", "the girl holding the dog") cannot be understood: the
words that name them are ignored. Parsing (``parse``):

1. the category: the first word of ``PERSON_WORDS`` / ``OBJECT_WORDS`` / ``ANY_WORDS``; else each word that no
   lexicon explains (and that no position phrase uses), embedded as "a WORD" with the all-MiniLM-L6-v2 sentence
   encoder (Reimers and Gurevych, "Sentence-BERT", EMNLP 2019, arXiv:1908.10084), goes to the nearer of the person
   and object prototypes; the word with the clearest margin decides when the margin is at least
   ``CATEGORY_MARGIN``, else the category is ``any``; that word names the thing and says nothing of the position;
2. the position: a word of ``POSITION_WORDS`` decides (left/right/middle first, then top/bottom, then size: "the
   tall man on the left" is the left one); else, if other unexplained words remain, the nearest of
   ``POSITION_PHRASES`` by cosine of the sentence embeddings, when at least ``PHRASE_SIMILARITY`` ("the one up
   high", "the kid down low"); else ``salient``. Exact words come first because the embeddings of antonyms are
   close (cosine 0.95 between "the person on the left" and "the person on the right");
3. an ordinal (second, 3rd, ...) counts from that side ("the second largest" too); without a side it counts from
   the left. Misspelt position words are not understood.

The encoder loads on first need only (sentences made of vocabulary words never load it).

Example:
    >>> parse("the second woman from the right")
    Reference(category='person', position='right', ordinal=2)
    >>> people = [Candidate((0, 0, 10, 30)), Candidate((40, 0, 60, 50)), Candidate((80, 0, 90, 20))]
    >>> pick(parse("the person in the middle"), people), pick(parse("the largest person"), people)
    (1, 1)
    >>> describe_position([c.box for c in people], 2)
    'the person on the right'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from mattekit.errors import InputError, UsageError

POSITIONS = ("left", "right", "middle", "top", "bottom", "largest", "smallest", "salient")
CATEGORIES = ("person", "object", "any")

POSITION_WORDS = {  # exact words; a sentence with several uses the first of the first group of PRIORITY
    **dict.fromkeys(("left", "leftmost"), "left"), **dict.fromkeys(("right", "rightmost"), "right"),
    **dict.fromkeys(("middle", "centre", "center", "central", "between"), "middle"),
    **dict.fromkeys(("top", "topmost", "highest", "higher", "upper", "uppermost", "above"), "top"),
    **dict.fromkeys(("bottom", "bottommost", "lowest", "lower", "below", "beneath"), "bottom"),
    **dict.fromkeys(("largest", "biggest", "big", "bigger", "large", "larger", "tallest", "tall", "taller", "front",
                     "foreground", "nearest", "nearer", "closest", "closer"), "largest"),
    **dict.fromkeys(("smallest", "small", "smaller", "little", "tiny", "tiniest", "shortest", "short", "shorter",
                     "back", "background", "behind", "furthest", "further", "farthest", "farther", "distant"),
                    "smallest"),
    "only": "salient",
}
PRIORITY = (("left", "right", "middle"), ("top", "bottom"), ("largest", "smallest"), ("salient",))
POSITION_PHRASES = {  # several phrasings per meaning, for the embedding's nearest match
    "left": ("the one on the left", "the leftmost one", "the one furthest to the left",
             "the one on the left-hand side", "the one at the left edge"),
    "right": ("the one on the right", "the rightmost one", "the one furthest to the right",
              "the one on the right-hand side", "the one at the right edge"),
    "middle": ("the one in the middle", "the one in the centre", "the one between the others", "the one in between"),
    "top": ("the one at the top", "the highest one", "the one above the others", "the one up high",
            "the upper one"),
    "bottom": ("the one at the bottom", "the lowest one", "the one below the others", "the one down low",
               "the lower one"),
    "largest": ("the largest one", "the biggest one", "the tallest one", "the one in front",
                "the one closest to the camera", "the nearest one", "the big one"),
    "smallest": ("the smallest one", "the little one", "the tiniest one", "the shortest one",
                 "the one furthest away", "the one in the distance", "the small one"),
    "salient": ("the one", "the only one", "the main one", "that one"),
}
ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
ORDINALS = {**{w: n for n, w in enumerate(ORDINAL_WORDS, 1)},
            **{f"{n}{suffix}": n for n, suffix in enumerate(("st", "nd", "rd") + ("th",) * 7, 1)}}
PERSON_WORDS = frozenset(
    "person persons people man men woman women guy guys girl girls boy boys lady ladies gentleman gentlemen child "
    "children kid kids baby toddler human someone somebody he she him her adult teenager player bride groom "
    "mother father mom dad".split())
OBJECT_WORDS = frozenset(
    "object objects thing things animal animals dog dogs puppy cat cats kitten bird birds horse pet car toy "
    "bag ball bottle cup plant flower".split())
ANY_WORDS = frozenset("one ones it instance item subject".split())
STOP_WORDS = frozenset(
    "the a an on at in of to from by with side hand most far very is are who which that this there here "
    "image picture photo frame scene camera please select pick choose matte cut out".split())
PERSON_PROTOTYPES = ("a person", "a man", "a woman", "a child", "people")
OBJECT_PROTOTYPES = ("an animal", "an object", "a thing", "a pet", "a vehicle")
CATEGORY_MARGIN = 0.1  # cosine; chosen on the development words of docs/interactive.md
PHRASE_SIMILARITY = 0.4  # cosine; a sentence less similar to every phrase means no position (development sentences
# of docs/interactive.md: positional wording 0.55-0.80, attributes only "the man in red" ... at most 0.29)


@dataclass(frozen=True)
class Reference:
    """What a sentence means offline: a ``category`` of CATEGORIES, a ``position`` of POSITIONS and an
    ``ordinal`` (1 = the first from that side; for ``middle`` and ``salient`` always 1)."""

    category: str = "any"
    position: str = "salient"
    ordinal: int = 1

    def __post_init__(self):
        if self.category not in CATEGORIES or self.position not in POSITIONS or self.ordinal < 1:
            raise UsageError(f"a text reference needs a category of {', '.join(CATEGORIES)}, a position of "
                             f"{', '.join(POSITIONS)} and an ordinal of at least 1, not {self}.")


@dataclass(frozen=True)
class Candidate:
    """An instance an engine found: ``box`` (x0, y0, x1, y1) in image pixels, ``kind`` "person" or "object",
    ``area`` in pixels (the box's area when not given), ``score`` (how salient or sure), an optional bool mask."""

    box: tuple[float, float, float, float]
    kind: str = "person"
    area: float | None = None
    score: float = 1.0
    mask: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.area is None:
            x0, y0, x1, y1 = self.box
            object.__setattr__(self, "area", float((x1 - x0) * (y1 - y0)))

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


def words_of(sentence: str) -> list[str]:
    """Lower-case words (letters and digits), accents stripped: "Left-hand côté" -> ['left', 'hand', 'cote']."""
    plain = "".join(c for c in unicodedata.normalize("NFD", sentence.lower()) if unicodedata.category(c) != "Mn")
    return re.findall(r"[a-z0-9]+", plain)


def parse(sentence: str) -> Reference:
    """The category, position and ordinal that ``sentence`` means (see the module docstring)."""
    words = words_of(sentence)
    ordinals = [ORDINALS[w] for w in words if w in ORDINALS]
    ordinal = ordinals[0] if ordinals else 1
    known = POSITION_WORDS.keys() | ORDINALS.keys() | PERSON_WORDS | OBJECT_WORDS | ANY_WORDS | STOP_WORDS
    unknown = [w for w in words if w not in known and not w.isdigit()]
    category, naming = _category(words, unknown)
    position = _position_from_words(words)
    if position is None:
        rest = [w for w in unknown if w != naming]
        position = _nearest_position(sentence) if rest else None
    if position is None:
        position = "left" if ordinals else "salient"
    if position in ("middle", "salient"):
        ordinal = 1
    return Reference(category, position, ordinal)


def _position_from_words(words: list[str]) -> str | None:
    found = [POSITION_WORDS[w] for w in words if w in POSITION_WORDS]
    for group in PRIORITY:
        first = next((p for p in found if p in group), None)
        if first:
            return first
    return None


def _category(words: list[str], unknown: list[str]) -> tuple[str, str | None]:
    """The category and the unknown word that named it (None when a lexicon word or nothing did)."""
    for word in words:
        for category, lexicon in (("person", PERSON_WORDS), ("object", OBJECT_WORDS), ("any", ANY_WORDS)):
            if word in lexicon:
                return category, None
    nouns = [w for w in unknown if w not in _phrase_words()]
    if not nouns:
        return "any", None
    person, thing = _category_scores(tuple(nouns))
    margins = person - thing
    best = int(np.argmax(np.abs(margins)))
    if abs(margins[best]) < CATEGORY_MARGIN:  # unsure of the kind; the word most like either still names the thing
        return "any", nouns[int(np.argmax(np.maximum(person, thing)))]
    return ("person" if margins[best] > 0 else "object"), nouns[best]


def _nearest_position(sentence: str) -> str | None:
    meanings, phrases = _phrase_embeddings()
    similarity = phrases @ _embed((sentence,))[0]
    best = int(np.argmax(similarity))
    return meanings[best] if similarity[best] >= PHRASE_SIMILARITY else None


@lru_cache(maxsize=1)
def _phrase_words() -> frozenset[str]:
    """The words of the position phrases ("up", "high", "away" ...): they say where, never what."""
    return frozenset(w for phrases in POSITION_PHRASES.values() for p in phrases for w in words_of(p))


def _category_scores(words: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    prototypes = _embed(PERSON_PROTOTYPES + OBJECT_PROTOTYPES)
    similarity = _embed(tuple(f"a {w}" for w in words)) @ prototypes.T
    split = len(PERSON_PROTOTYPES)
    return similarity[:, :split].max(1), similarity[:, split:].max(1)


@lru_cache(maxsize=1)
def _phrase_embeddings() -> tuple[list[str], np.ndarray]:
    meanings = [m for m, phrases in POSITION_PHRASES.items() for _ in phrases]
    return meanings, _embed(tuple(p for phrases in POSITION_PHRASES.values() for p in phrases))


@lru_cache(maxsize=256)
def _embed(texts: tuple[str, ...]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return _encoder().embed(list(texts)).numpy()


@lru_cache(maxsize=1)
def _encoder():
    from mattekit.models.text_encoder import MiniLM

    return MiniLM.from_package()


def pick(reference: Reference, candidates: list[Candidate]) -> int:
    """The index in ``candidates`` of the instance ``reference`` means. Candidates of another kind are left out
    unless none is of the meant kind; an ordinal beyond the count gives the last one from that side.

    Raises ``InputError`` when there is no candidate at all."""
    if not candidates:
        raise InputError("no person or object was found in the image to match the sentence; use a click or a box "
                         "instead.")
    pool = [i for i, c in enumerate(candidates) if reference.category in ("any", c.kind)] or \
        list(range(len(candidates)))
    if reference.position == "middle":
        return _middle(pool, candidates)
    key = {
        "left": lambda i: candidates[i].centre[0], "right": lambda i: -candidates[i].centre[0],
        "top": lambda i: candidates[i].centre[1], "bottom": lambda i: -candidates[i].centre[1],
        "largest": lambda i: -candidates[i].area, "smallest": lambda i: candidates[i].area,
        "salient": lambda i: (-candidates[i].score, -candidates[i].area),
    }[reference.position]
    ranked = sorted(pool, key=key)
    return ranked[min(reference.ordinal, len(ranked)) - 1]


def _middle(pool: list[int], candidates: list[Candidate]) -> int:
    ranked = sorted(pool, key=lambda i: candidates[i].centre[0])
    if len(ranked) % 2:
        return ranked[len(ranked) // 2]
    middle = (min(candidates[i].box[0] for i in pool) + max(candidates[i].box[2] for i in pool)) / 2
    central = ranked[len(ranked) // 2 - 1:len(ranked) // 2 + 1]
    return min(central, key=lambda i: abs(candidates[i].centre[0] - middle))


def choose(sentence: str, candidates: list[Candidate]) -> int:
    """``pick(parse(sentence), candidates)``: the index of the candidate ``sentence`` names."""
    return pick(parse(sentence), candidates)


def describe_position(boxes: list[tuple[float, float, float, float]], index: int, noun: str = "person",
                      areas: list[float] | None = None, ways: tuple[str, ...] = ("horizontal",)) -> str:
    """The sentence a person would say for instance ``index`` among ``boxes`` (x0, y0, x1, y1), which ``parse``
    and ``pick`` map back to ``index``. ``ways`` are tried in order: "size" ("the largest person", when its area
    is clearly the largest or smallest, by 20 %), "vertical" ("the person at the top", when its centre is clearly
    the highest or lowest, by a tenth of the boxes' height), "horizontal" (always: left, right, middle or "the
    second person from the left"). ``areas`` default to the boxes' areas.

    Example:
        >>> boxes = [(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10), (60, 0, 70, 10)]
        >>> [describe_position(boxes, i) for i in range(4)]  # doctest: +NORMALIZE_WHITESPACE
        ['the person on the left', 'the second person from the left', 'the second person from the right',
         'the person on the right']
    """
    candidates = [Candidate(tuple(b), area=None if areas is None else areas[i]) for i, b in enumerate(boxes)]
    if len(candidates) == 1:
        return f"the {noun}"
    for way in ways:
        sentence = {"size": _by_size, "vertical": _by_height, "horizontal": _by_side}[way](candidates, index, noun)
        if sentence:
            return sentence
    return _by_side(candidates, index, noun)


def _by_size(candidates: list[Candidate], index: int, noun: str) -> str | None:
    others = [c.area for i, c in enumerate(candidates) if i != index]
    area = candidates[index].area
    if area > 1.2 * max(others):
        return f"the largest {noun}"
    if 1.2 * area < min(others):
        return f"the smallest {noun}"
    return None


def _by_height(candidates: list[Candidate], index: int, noun: str) -> str | None:
    height = np.mean([c.box[3] - c.box[1] for c in candidates])
    others = [c.centre[1] for i, c in enumerate(candidates) if i != index]
    y = candidates[index].centre[1]
    if y + height / 10 < min(others):
        return f"the {noun} at the top"
    if y - height / 10 > max(others):
        return f"the {noun} at the bottom"
    return None


def _by_side(candidates: list[Candidate], index: int, noun: str) -> str:
    everyone = list(range(len(candidates)))
    if _middle(everyone, candidates) == index and len(candidates) % 2:
        return f"the {noun} in the middle"
    rank = sorted(everyone, key=lambda i: (candidates[i].centre[0], i)).index(index)
    side, count = ("left", rank + 1) if rank < len(candidates) / 2 else ("right", len(candidates) - rank)
    if count == 1:
        return f"the {noun} on the {side}"
    return f"the {ORDINAL_WORDS[count - 1]} {noun} from the {side}"
