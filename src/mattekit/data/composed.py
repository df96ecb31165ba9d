"""Composition-1k and Distinctions-646 test sets: foregrounds composed over backgrounds, the standard way.

The standard test composition (Xu et al., Deep Image Matting; reused by Distinctions-646): foreground ``i`` (in
the order of ``test_fg_names.txt``, else sorted) is composed over backgrounds ``20·i … 20·i+19`` (in the order of
``test_bg_names.txt``, else sorted). A background smaller than the foreground in either side is first enlarged
with bicubic resampling by the larger of the two ratios (sizes rounded up), then its top-left corner is cropped to
the foreground's size; the composite is ``alpha/255 · fg + (1 − alpha/255) · bg`` truncated to uint8. Composite
``k`` of foreground ``X`` is named ``X_k``; its trimap, if the set has trimaps, is ``trimaps/X_k.png``.

Layouts accepted (PATH may also be the folder above ``Test_set`` or ``Test``):

- ``comp1k``: ``[Test_set/][Adobe-licensed images/]{fg,alpha[,trimaps]}/`` plus ``bg/`` holding the PASCAL VOC
  backgrounds named in ``test_bg_names.txt``.
- ``d646``: ``[Test/]{FG,GT[,Trimap]}/`` plus ``bg/``.
- Either set already composed: an image folder (``merged``, ``image`` or ``Image``) beside the alpha folder; the
  alpha of ``X_k`` is ``X`` when there is no ``X_k``.

Example:
    >>> fg = np.full((2, 2, 3), 200, np.uint8); bg = np.zeros((1, 1, 3), np.uint8)
    >>> compose_standard(fg, np.array([[255, 128], [0, 0]], np.uint8), bg)[..., 0].tolist()
    [[200, 100], [0, 0]]
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from PIL import Image

from mattekit import io
from mattekit.data.samples import Dataset, Entry, files_by_stem, name_list
from mattekit.errors import InputError

BACKGROUNDS_PER_FOREGROUND = 20


def compose_standard(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Compose uint8 ``fg`` (HxWx3) with uint8 ``alpha`` (HxW) over uint8 ``bg`` as the DIM test set is made."""
    height, width = alpha.shape
    bg_height, bg_width = bg.shape[:2]
    ratio = max(width / bg_width, height / bg_height)
    if ratio > 1:
        size = (math.ceil(bg_width * ratio), math.ceil(bg_height * ratio))
        bg = np.asarray(Image.fromarray(bg).resize(size, Image.Resampling.BICUBIC))
    a = alpha.astype(np.float64)[..., None] / 255.0
    return (a * fg + (1.0 - a) * bg[:height, :width]).astype(np.uint8)


def _first(base: Path, names: tuple[str, ...]) -> Path | None:
    return next((base / n for n in names if (base / n).is_dir()), None)


def _read_list(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _by_list(files: dict[str, Path], listed: list[str] | None, where: Path, list_path: Path) -> list[Path]:
    """The files named in ``listed`` (by file name or stem), in that order; all of ``files`` sorted when no list."""
    if listed is None:
        return list(files.values())
    missing = [n for n in listed if Path(n).stem not in files]
    if missing:
        raise InputError(f"{len(missing)} name(s) of {list_path} are not in {where}: {name_list(missing)}.")
    return [files[Path(n).stem] for n in listed]


class ComposedTestSet(Dataset):
    """A test set of foregrounds composed over backgrounds (or already composed); see the module docstring."""

    NESTS: tuple[tuple[str, ...], ...] = ()  # sub-folders tried, outermost first, to reach the data
    FG_DIRS: tuple[str, ...] = ()
    ALPHA_DIRS: tuple[str, ...] = ()
    TRIMAP_DIRS: tuple[str, ...] = ()
    COMPOSED_DIRS = ("merged", "image", "Image")

    def __init__(self, root, split=None, backgrounds_per_foreground: int = BACKGROUNDS_PER_FOREGROUND):
        super().__init__(root, split)
        self.levels = [self.root]  # the folders walked through, outermost first
        for nest in self.NESTS:
            here = self.levels[-1]
            self.levels.append(next((here / n for n in nest if (here / n).is_dir()), here))
        base = self.levels[-1]
        alpha_dir = _first(base, self.ALPHA_DIRS)
        if alpha_dir is None:
            raise InputError(f"{base} has no alpha folder (looked for {', '.join(self.ALPHA_DIRS)}).")
        trimap_dir = _first(base, self.TRIMAP_DIRS)
        composed = _first(base, self.COMPOSED_DIRS)
        alphas = files_by_stem(alpha_dir)
        if composed is not None:
            self._read_composed(files_by_stem(composed), alphas, trimap_dir, alpha_dir)
        else:
            self._plan_composition(base, alphas, trimap_dir, backgrounds_per_foreground)
        if not self.entries:
            raise InputError(f"{self.kind} dataset folder {self.root} holds no images.")

    def _read_composed(self, images: dict, alphas: dict, trimap_dir: Path | None, alpha_dir: Path) -> None:
        trimaps = files_by_stem(trimap_dir) if trimap_dir else {}
        lonely = []
        for stem, image in images.items():
            alpha = alphas.get(stem) or alphas.get(re.sub(r"_\d+$", "", stem))
            if alpha is None:
                lonely.append(stem)
                continue
            self.entries[stem] = Entry(image, alpha, self._trimap(trimaps, trimap_dir, stem), {})
        if lonely:
            raise InputError(f"{len(lonely)} composed image(s) have no alpha in {alpha_dir}: {name_list(lonely)}.")

    def _trimap(self, trimaps: dict, trimap_dir: Path | None, stem: str) -> Path | None:
        if trimap_dir is None:
            return None
        if stem not in trimaps:
            raise InputError(f"{trimap_dir} has no trimap for {stem}.")
        return trimaps[stem]

    def _nearest(self, name: str, want_dir: bool) -> Path | None:
        """``name`` in the deepest of the walked folders that has it (a folder or a file)."""
        found = (level / name for level in reversed(self.levels))
        return next((p for p in found if (p.is_dir() if want_dir else p.is_file())), None)

    def _plan_composition(self, base: Path, alphas: dict, trimap_dir: Path | None, per_fg: int) -> None:
        fg_dir = _first(base, self.FG_DIRS)
        bg_dir = self._nearest("bg", want_dir=True)
        if fg_dir is None or bg_dir is None:
            raise InputError(
                f"{base} needs a foreground folder ({', '.join(self.FG_DIRS)}) and a bg folder of backgrounds "
                "to compose the test images (or an already composed merged/ folder)."
            )
        fg_list = self._nearest("test_fg_names.txt", want_dir=False) or base / "test_fg_names.txt"
        bg_list = self._nearest("test_bg_names.txt", want_dir=False) or base / "test_bg_names.txt"
        foregrounds = _by_list(files_by_stem(fg_dir), _read_list(fg_list), fg_dir, fg_list)
        backgrounds = _by_list(files_by_stem(bg_dir), _read_list(bg_list), bg_dir, bg_list)
        lonely = [f.stem for f in foregrounds if f.stem not in alphas]
        if lonely:
            raise InputError(
                f"{len(lonely)} foreground(s) of {fg_dir} have no alpha in the alpha folder: {name_list(lonely)}."
            )
        if len(backgrounds) < per_fg * len(foregrounds):
            raise InputError(
                f"{bg_dir} has {len(backgrounds)} backgrounds but {len(foregrounds)} foregrounds need "
                f"{per_fg * len(foregrounds)} ({per_fg} each)."
            )
        trimaps = files_by_stem(trimap_dir) if trimap_dir else {}
        for i, fg in enumerate(foregrounds):
            for k in range(per_fg):
                name, bg = f"{fg.stem}_{k}", backgrounds[i * per_fg + k]
                meta = {"foreground": fg.stem, "background": bg.stem}
                trimap = self._trimap(trimaps, trimap_dir, name)
                self.entries[name] = Entry(fg, alphas[fg.stem], trimap, meta, {"background": bg})

    def _image(self, entry: Entry) -> np.ndarray:
        if "background" not in entry.extra:
            return io.load_image(entry.image)
        fg = io.load_image(entry.image)
        alpha = io.load_alpha(entry.alpha)
        if alpha.shape != fg.shape[:2]:
            raise InputError(f"{entry.alpha} is not the size of its foreground {entry.image}.")
        alpha8 = np.round(alpha * 255.0).astype(np.uint8)
        return compose_standard(fg, alpha8, io.load_image(entry.extra["background"]))


class Composition1K(ComposedTestSet):
    """Composition-1k test (Xu et al., Deep Image Matting): 50 Adobe foregrounds over 20 VOC backgrounds each."""

    kind = "comp1k"
    NESTS = (("Combined_Dataset",), ("Test_set",), ("Adobe-licensed images",))
    FG_DIRS = ("fg",)
    ALPHA_DIRS = ("alpha",)
    TRIMAP_DIRS = ("trimaps", "trimap")


class Distinctions646(ComposedTestSet):
    """Distinctions-646 test (Qiao et al., HAttMatting): 50 foregrounds over 20 backgrounds each."""

    kind = "d646"
    NESTS = (("Distinctions-646", "Distinction-646"), ("Test",))
    FG_DIRS = ("FG", "fg")
    ALPHA_DIRS = ("GT", "alpha")
    TRIMAP_DIRS = ("Trimap", "trimap", "trimaps")
