"""What every dataset reader shares: the ``Sample`` it yields, lazy loading by name, and folder/stem matching.

A reader lists its samples when it is built (directory listings only, no pixels) and decodes one sample when asked
for it, so a benchmark can skip the images it has already scored.

Example:
    >>> import tempfile, numpy as np
    >>> from mattekit import io
    >>> root = Path(tempfile.mkdtemp())
    >>> io.save_image(root / "image" / "cat.jpg", np.zeros((4, 6, 3), np.uint8))
    >>> io.save_alpha(root / "alpha" / "cat.png", np.ones((4, 6), np.float32))
    >>> pairs = match_stems({"image": root / "image", "alpha": root / "alpha"}, "the folder set")
    >>> sorted(pairs), pairs["cat"]["alpha"].name
    (['cat'], 'cat.png')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from mattekit import io
from mattekit.errors import InputError, UsageError

LISTED_NAMES = 8  # how many offending names an error message spells out


@dataclass
class Sample:
    """One benchmark item: ``image`` uint8 RGB HxWx3, ``alpha`` float32 HxW in [0, 1], ``trimap`` uint8 or None."""

    name: str
    image: np.ndarray
    alpha: np.ndarray
    trimap: np.ndarray | None
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """Where one sample's files are; ``extra`` holds reader-specific paths (e.g. a background to compose over)."""

    image: Path
    alpha: Path
    trimap: Path | None = None
    meta: Mapping = field(default_factory=dict)
    extra: Mapping = field(default_factory=dict)


def name_list(names, limit: int = LISTED_NAMES) -> str:
    """``a, b, c`` or ``a, b, ... and 7 more`` for error messages.

    >>> name_list(["a", "b", "c"], limit=2)
    'a, b and 1 more'
    """
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else InputError naming it and ``what`` it should hold."""
    if not path.is_dir():
        raise InputError(f"{what} folder {path} does not exist.")
    return path


def first_dir(root: Path, candidates: tuple[str, ...], what: str) -> Path:
    """The first of ``root/candidate`` that is a folder, or InputError listing the names tried."""
    for name in candidates:
        if (root / name).is_dir():
            return root / name
    raise InputError(f"{root} has no {what} folder (looked for {', '.join(candidates)}).")


def files_by_stem(folder: Path) -> dict[str, Path]:
    """Image files of ``folder`` keyed by stem; two files with one stem (``a.jpg``, ``a.png``) is an InputError."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in io.IMAGE_SUFFIXES and path.is_file() and not path.name.startswith("."):
            if path.stem in found:
                first = found[path.stem].name
                raise InputError(f"{folder} holds two files for {path.stem!r}: {first} and {path.name}.")
            found[path.stem] = path
    return found


def match_stems(folders: Mapping[str, Path], what: str, optional: Mapping[str, Path] | None = None) -> dict:
    """Pair the files of several folders by stem: ``{stem: {role: path}}``, sorted by stem.

    Every folder in ``folders`` must hold the same stems (InputError listing the unpaired ones otherwise); an
    ``optional`` folder (a trimap folder, say) may be missing, but when it exists it must pair up too.
    """
    present = {role: Path(p) for role, p in folders.items()}
    present.update({role: Path(p) for role, p in (optional or {}).items() if Path(p).is_dir()})
    listed = {role: files_by_stem(require_dir(path, f"{what} {role}")) for role, path in present.items()}
    roles = list(listed)
    for role in roles[1:]:
        for a, b in ((roles[0], role), (role, roles[0])):
            lonely = set(listed[a]) - set(listed[b])
            if lonely:
                raise InputError(
                    f"{len(lonely)} file(s) in {present[a]} have no partner of the same name in {present[b]}: "
                    f"{name_list(lonely)}."
                )
    if not listed[roles[0]]:
        raise InputError(f"{present[roles[0]]} holds no images for the {what}.")
    return {stem: {role: listed[role][stem] for role in roles} for stem in sorted(listed[roles[0]])}


def read_pair(entry: Entry, image: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Alpha and trimap of ``entry`` checked against the image size (read from the header if ``image`` is None)."""
    alpha = io.load_alpha(entry.alpha)
    shape = image.shape[:2] if image is not None else alpha.shape
    if alpha.shape != shape:
        raise InputError(
            f"{entry.alpha} is {alpha.shape[1]}x{alpha.shape[0]} but its image is {shape[1]}x{shape[0]}; "
            "an alpha matte must have its image's size."
        )
    trimap = io.load_trimap(entry.trimap, shape) if entry.trimap is not None else None
    return alpha, trimap


class Dataset:
    """A benchmark read lazily: ``names`` is cheap, ``load(name)`` decodes one sample, iterating yields them all.

    Subclasses fill ``self.entries`` (name -> Entry) in ``__init__`` and may override ``_image`` to build the
    image (composition) instead of reading it. ``group_keys`` name the ``meta`` fields worth a per-group summary.
    """

    kind: ClassVar[str] = ""
    splits: ClassVar[tuple[str, ...]] = ()  # the first is the default
    group_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, root: str | Path, split: str | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.kind} dataset folder {self.root} does not exist.")
        self.split = self._check_split(split)
        self.entries: dict[str, Entry] = {}

    def _check_split(self, split: str | None) -> str | None:
        if not self.splits:
            if split is not None:
                raise UsageError(f"the {self.kind} dataset has no splits; leave out --split {split}.")
            return None
        if split is None:
            return self.splits[0]
        if split not in self.splits:
            choices = ", ".join(self.splits)
            raise UsageError(f"the {self.kind} dataset has no split {split!r}; choose one of: {choices}.")
        return split

    @property
    def names(self) -> list[str]:
        return list(self.entries)

    @property
    def has_trimaps(self) -> bool:
        """True when every sample comes with a trimap."""
        return bool(self.entries) and all(e.trimap is not None for e in self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Sample]:
        return (self.load(name) for name in self.entries)

    def __repr__(self) -> str:
        split = f", split={self.split!r}" if self.split else ""
        return f"{type(self).__name__}({str(self.root)!r}{split}: {len(self)} samples)"

    def _entry(self, name: str) -> Entry:
        if name not in self.entries:
            raise InputError(f"the {self.kind} dataset at {self.root} has no sample named {name!r}.")
        return self.entries[name]

    def meta(self, name: str) -> dict:
        """The sample's metadata (category, instance, ...) without reading any pixels."""
        return dict(self._entry(name).meta)

    def _image(self, entry: Entry) -> np.ndarray:
        return io.load_image(entry.image)

    def load(self, name: str) -> Sample:
        """Decode the sample called ``name``; a file that cannot be read raises InputError naming it."""
        entry = self._entry(name)
        image = self._image(entry)
        alpha, trimap = read_pair(entry, image)
        return Sample(name, image, alpha, trimap, dict(entry.meta))

    def truth(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Only the ground truth (alpha, trimap) of ``name``, without decoding or composing the image."""
        return read_pair(self._entry(name))
