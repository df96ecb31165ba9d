"""One registry of benchmark readers, opened by a ``KIND:PATH`` spec as the command line names them.

Kinds: ``am2k``, ``p3m``, ``aim500``, ``alphamatting``, ``comp1k``, ``d646``, ``him2k``, ``synth`` and ``folder`` (see
``mattekit.data.readers`` and ``mattekit.data.composed`` for their layouts). Every reader lists its samples
cheaply when opened and decodes one on ``load(name)``; each ``Sample`` has ``name``, ``image`` (uint8 RGB),
``alpha`` (float32), ``trimap`` (uint8 or None) and ``meta``.

Example:
    >>> ds = open_dataset("alphamatting:data/alphamatting", split="trimap2")   # doctest: +SKIP
    >>> len(ds), ds.load(ds.names[0]).alpha.dtype                                         # doctest: +SKIP
    (18, dtype('float32'))
"""

from __future__ import annotations

from mattekit.data.composed import Composition1K, Distinctions646, compose_standard
from mattekit.data.readers import AIM500, AM2K, HIM2K, P3M, AlphaMatting, Folder, InstanceImage, SynthesizedScenes
from mattekit.data.samples import Dataset, Sample
from mattekit.errors import UsageError

DATASETS: dict[str, type[Dataset]] = {
    cls.kind: cls
    for cls in (AM2K, P3M, AIM500, AlphaMatting, Composition1K, Distinctions646, HIM2K, SynthesizedScenes, Folder)
}
ALIASES = {
    "am-2k": "am2k",
    "p3m-10k": "p3m",
    "p3m10k": "p3m",
    "aim-500": "aim500",
    "composition-1k": "comp1k",
    "composition1k": "comp1k",
    "distinctions-646": "d646",
    "distinctions646": "d646",
}

__all__ = ["DATASETS", "Dataset", "Sample", "InstanceImage", "open_dataset", "parse_spec", "compose_standard"]


def parse_spec(spec: str) -> tuple[str, str]:
    """``"KIND:PATH"`` -> (registered kind, path); an unknown kind or a missing colon is a UsageError.

    >>> parse_spec("AM-2k:/data/AM-2k")
    ('am2k', '/data/AM-2k')
    """
    kind, sep, path = spec.partition(":")
    kind = ALIASES.get(kind.lower(), kind.lower())
    if not sep or not path:
        raise UsageError(f"a dataset is named KIND:PATH (for example alphamatting:data/alphamatting), not {spec!r}.")
    if kind not in DATASETS:
        raise UsageError(f"unknown dataset kind {kind!r}; choose one of: {', '.join(DATASETS)}.")
    return kind, path


def open_dataset(spec: str, split: str | None = None) -> Dataset:
    """Open the dataset named by ``spec`` (``KIND:PATH``), optionally at ``split`` (the kind's default otherwise)."""
    kind, path = parse_spec(spec)
    return DATASETS[kind](path, split)
