"""Interactive sessions: one image, one or more instances, each refined over rounds of prompts, with undo.

A ``Session`` owns everything that is not matting: the rounds of every instance, the conflict map of each round
(``mattekit.interactive.conflict``), undo, and joining the instances. The matting itself is the engine's: an
engine that serves sessions has

- ``prepare(image) -> state``: the per-image work (segmenter passes, features), done once per session; the state
  may fill itself lazily, and every round of every instance reuses it;
- ``round(image, state, given: RoundInput) -> Matte``: one round of one instance.

``RoundInput`` hands the engine this round's prompts, the instance's earlier rounds (``all_prompts`` aggregates
them for engines that have no memory of rounds), the previous alpha, the conflict map and the other instances'
alphas. The HTTP API and the web page translate requests into these calls and hold no matting logic.

Example:
    >>> from mattekit.interactive import Box, Click, Session                        # doctest: +SKIP
    >>> session = Session("people.jpg")                                              # doctest: +SKIP
    >>> matte = session.round([Box(40, 10, 300, 470)], instance=0)                   # doctest: +SKIP
    >>> matte = session.round([Click(120, 200, positive=False)], instance=0)         # doctest: +SKIP
    >>> session.conflict.max(), session.undo(instance=0) is not None                 # doctest: +SKIP
    (2, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mattekit.errors import UsageError
from mattekit.interactive.conflict import conflict_map
from mattekit.interactive.prompts import Box, Click, Scribble, Text, check_inside
from mattekit.io import as_rgb
from mattekit.matte import Matte

PROMPT_TYPES = (Click, Scribble, Box, Text)


@dataclass
class RoundInput:
    """What an engine is given for one round of one instance."""

    prompts: list
    earlier: list = field(default_factory=list)  # the instance's earlier rounds, oldest first
    previous: np.ndarray | None = None  # the instance's alpha after its last round
    conflict: np.ndarray | None = None  # M_ref of this round's prompts against ``previous``
    others: dict = field(default_factory=dict)  # instance id -> current alpha of every other instance

    @property
    def all_prompts(self) -> list:
        """Rounds 1..t together: the input of an engine that has no memory of rounds."""
        return [p for prompts in self.earlier for p in prompts] + list(self.prompts)


@dataclass
class Round:
    """One finished round: its prompts, the matte it gave and its conflict map."""

    prompts: list
    matte: Matte
    conflict: np.ndarray


def check_engine(engine) -> None:
    """UsageError unless ``engine`` can serve a session."""
    if not (callable(getattr(engine, "prepare", None)) and callable(getattr(engine, "round", None))):
        name = getattr(engine, "name", type(engine).__name__)
        raise UsageError(f"the {name} engine does not serve interactive sessions; use the interactive engine "
                         "(or dfimat with weights).")


class Session:
    """One image matted interactively; see the module docstring. ``engine`` is a name (built with ``options``,
    e.g. ``weights=``) or an engine object that serves sessions."""

    def __init__(self, image, engine="interactive", **options):
        from mattekit.engines import load_engine, shared_engine

        self.image = as_rgb(image)
        if isinstance(engine, str):
            engine = load_engine(engine, **options) if options else shared_engine(engine)
        elif options:
            raise UsageError("engine options go with an engine name, not with an engine object.")
        check_engine(engine)
        self.engine = engine
        self.state = engine.prepare(self.image)
        self.conflict = np.zeros(self.image.shape[:2], np.uint8)
        self._rounds: dict[int, list[Round]] = {}

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[:2]

    def round(self, prompts, instance: int = 0) -> Matte:
        """Run one round of ``prompts`` (any mix of Click, Scribble, Box, Text) for ``instance``; returns its
        matte and sets ``conflict``. Nothing changes if the prompts are refused or the engine fails."""
        instance = _check_instance(instance)
        prompts = self._check_prompts(prompts)
        history = self._rounds.get(instance, [])
        previous = history[-1].matte.alpha if history else None
        conflict = conflict_map(previous, prompts, self.shape)
        given = RoundInput(prompts=prompts, earlier=[r.prompts for r in history], previous=previous,
                           conflict=conflict, others={k: v[-1].matte.alpha for k, v in self._rounds.items()
                                                      if k != instance and v})
        matte = self.engine.round(self.image, self.state, given)
        self._rounds.setdefault(instance, []).append(Round(prompts, matte, conflict))
        self.conflict = conflict
        return matte

    def undo(self, instance: int = 0) -> Matte | None:
        """Drop ``instance``'s last round; returns its matte as it was before that round (None if no round is
        left). ``conflict`` becomes the conflict map of the round now last."""
        instance = _check_instance(instance)
        history = self._rounds.get(instance)
        if not history:
            raise UsageError(f"instance {instance} has no round to undo.")
        history.pop()
        if not history:
            del self._rounds[instance]
        self.conflict = history[-1].conflict if history else np.zeros(self.shape, np.uint8)
        return history[-1].matte if history else None

    def rounds(self, instance: int = 0) -> list[Round]:
        """The finished rounds of ``instance``, oldest first."""
        return list(self._rounds.get(_check_instance(instance), []))

    def matte(self, instance: int = 0) -> Matte:
        """The current matte of ``instance``."""
        history = self._rounds.get(_check_instance(instance))
        if not history:
            raise UsageError(f"instance {instance} has no matte yet; run a round for it first.")
        return history[-1].matte

    def instances(self) -> dict[int, np.ndarray]:
        """Every instance's current alpha (float32 HxW), by instance id. Where instances overlap so that their
        alphas sum to more than 1, each is divided by that sum, so they share the pixel."""
        return share_overlaps({k: v[-1].matte.alpha for k, v in sorted(self._rounds.items())})

    def _check_prompts(self, prompts) -> list:
        if isinstance(prompts, PROMPT_TYPES) or not isinstance(prompts, (list, tuple)) or not prompts:
            raise UsageError("a round needs a non-empty list of prompts (Click, Scribble, Box or Text).")
        for i, prompt in enumerate(prompts, 1):
            if not isinstance(prompt, PROMPT_TYPES):
                raise UsageError(f"prompt {i} is a {type(prompt).__name__}, not a Click, Scribble, Box or Text.")
            try:
                check_inside(prompt, self.shape)
            except UsageError as e:
                raise UsageError(f"prompt {i}: {e}") from None
        return list(prompts)


def share_overlaps(alphas: dict) -> dict[int, np.ndarray]:
    """Instance alphas (float32) divided, where they sum to more than 1, by that sum.

    >>> {k: v.tolist() for k, v in share_overlaps({0: np.array([0.75]), 1: np.array([0.75])}).items()}
    {0: [0.5], 1: [0.5]}
    """
    alphas = {k: np.asarray(a, np.float32) for k, a in alphas.items()}
    if len(alphas) > 1:
        total = np.maximum(np.sum(list(alphas.values()), axis=0), np.float32(1))
        alphas = {k: a / total for k, a in alphas.items()}
    return alphas


def _check_instance(instance) -> int:
    if isinstance(instance, bool) or not isinstance(instance, (int, np.integer)) or instance < 0:
        raise UsageError(f"an instance is a whole number from 0, not {instance!r}.")
    return int(instance)
