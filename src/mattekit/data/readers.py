"""Readers for the natural-image matting benchmarks and for any folder of image/alpha(/trimap) files.

Layouts (file stems pair the files; any image suffix is accepted; masks may be 3-channel, channel 0 is used):

- ``am2k``: ``{train,validation}/original/*.jpg``, ``.../mask/*.png``, ``.../trimap/*.png`` (trimaps if present).
- ``p3m``: ``[validation/]P3M-500-P/{blurred_image,mask,trimap[,facemask]}``,
  ``[validation/]P3M-500-NP/{original_image,mask,trimap}``, ``train/{blurred_image,mask}``.
- ``aim500``: ``{original,mask,trimap}/`` and ``aim_category_type.json`` (stem -> {"type", "category"}).
- ``alphamatting``: ``{image,alpha,trimap1,trimap2}/``; the split picks the trimap.
- ``folder``: an image folder (``image``, ``images``, ``original``, ``merged``, ``blurred_image``,
  ``original_image``), an alpha folder (``alpha``, ``alphas``, ``mask``, ``matte``, ``gt``) and, optionally, a
  trimap folder (``trimap``, ``trimaps``).
- ``him2k``: ``images/{comp,natural}/<name>.jpg`` and ``alphas/{comp,natural}/<name>/<instance>.png``; one
  sample per instance alpha, named ``<subset>/<name>/<instance>``; ``load_instances`` gives a whole image.
- ``synth``: the HIM2K layout without subsets (``images/<name>.jpg``, ``alphas/<name>/<instance>.png``) plus an
  optional ``captions.json``; what ``mattekit compose --mode scenes`` writes.

Example:
    >>> ds = AlphaMatting("data/alphamatting", split="trimap2")   # doctest: +SKIP
    >>> ds.names[:2], ds.load("GT01").trimap.dtype                             # doctest: +SKIP
    (['GT01', 'GT02'], dtype('uint8'))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mattekit import io
from mattekit.data.samples import Dataset, Entry, files_by_stem, first_dir, match_stems, name_list, require_dir
from mattekit.errors import InputError

IMAGE_DIRS = ("image", "images", "original", "merged", "blurred_image", "original_image")
ALPHA_DIRS = ("alpha", "alphas", "mask", "matte", "gt")
TRIMAP_DIRS = ("trimap", "trimaps")


def paired_entries(image_dir: Path, alpha_dir: Path, trimap_dir: Path | None, what: str, **meta) -> dict:
    """Entries for the stems shared by an image, an alpha and (when the folder exists) a trimap folder."""
    optional = {"trimap": trimap_dir} if trimap_dir is not None else None
    pairs = match_stems({"image": image_dir, "alpha": alpha_dir}, what, optional)
    return {stem: Entry(p["image"], p["alpha"], p.get("trimap"), dict(meta)) for stem, p in pairs.items()}


class Folder(Dataset):
    """Any folder with an image folder, an alpha folder and an optional trimap folder, matched by stem."""

    kind = "folder"

    def __init__(self, root, split=None):
        super().__init__(root, split)
        image_dir = first_dir(self.root, IMAGE_DIRS, "image")
        alpha_dir = first_dir(self.root, ALPHA_DIRS, "alpha")
        trimap_dir = next((self.root / d for d in TRIMAP_DIRS if (self.root / d).is_dir()), None)
        self.entries = paired_entries(image_dir, alpha_dir, trimap_dir, f"folder dataset {self.root}")


class AM2K(Dataset):
    """AM-2k (Li et al., GFM): 1,800 training and 200 validation animal photos with hand-made alpha mattes."""

    kind = "am2k"
    splits = ("validation", "train")

    def __init__(self, root, split=None):
        super().__init__(root, split)
        base = require_dir(self.root / self.split, f"AM-2k {self.split}")
        self.entries = paired_entries(base / "original", base / "mask", base / "trimap", f"AM-2k {self.split}")


class P3M(Dataset):
    """P3M-10k (Li et al., privacy-preserving portrait matting): P3M-500-P (face-blurred) and P3M-500-NP."""

    kind = "p3m"
    splits = ("P3M-500-P", "P3M-500-NP", "train")
    IMAGE_DIR = {"P3M-500-P": "blurred_image", "P3M-500-NP": "original_image", "train": "blurred_image"}

    def __init__(self, root, split=None):
        super().__init__(root, split)
        candidates = [self.root / "validation" / self.split, self.root / self.split]
        base = next((c for c in candidates if c.is_dir()), None)
        if base is None:
            raise InputError(f"P3M-10k folder {self.root} has neither validation/{self.split} nor {self.split}.")
        what = f"P3M-10k {self.split}"
        self.entries = paired_entries(base / self.IMAGE_DIR[self.split], base / "mask", base / "trimap", what)
        faces = files_by_stem(base / "facemask") if (base / "facemask").is_dir() else {}
        for stem, entry in self.entries.items():
            entry.meta["subset"] = self.split
            if stem in faces:
                entry.meta["facemask"] = str(faces[stem])


class AIM500(Dataset):
    """AIM-500 (Li et al., automatic image matting): 500 natural images in 7 categories and 3 types (SO/STM/NS)."""

    kind = "aim500"
    group_keys = ("category", "type")
    CATEGORY_FILE = "aim_category_type.json"

    def __init__(self, root, split=None):
        super().__init__(root, split)
        self.entries = paired_entries(self.root / "original", self.root / "mask", self.root / "trimap", "AIM-500")
        json_path = self.root / self.CATEGORY_FILE
        if not json_path.is_file():
            return
        try:
            table = {Path(k).stem: v for k, v in json.loads(json_path.read_text()).items()}
        except (ValueError, AttributeError, OSError) as e:
            raise InputError(f"{json_path} is not a JSON object of stem -> {{type, category}} ({e}).") from None
        missing = [s for s in self.entries if not isinstance(table.get(s), dict)]
        if missing:
            raise InputError(f"{json_path} has no type and category for {len(missing)} image(s): {name_list(missing)}.")
        for stem, entry in self.entries.items():
            entry.meta.update({"category": str(table[stem].get("category")), "type": str(table[stem].get("type"))})


class AlphaMatting(Dataset):
    """The alphamatting.com training set (Rhemann et al. 2009); the split chooses trimap1 (small) or trimap2."""

    kind = "alphamatting"
    splits = ("trimap1", "trimap2")

    def __init__(self, root, split=None):
        super().__init__(root, split)
        require_dir(self.root / self.split, f"alphamatting {self.split}")
        pairs = match_stems(
            {"image": self.root / "image", "alpha": self.root / "alpha", "trimap": self.root / self.split},
            "alphamatting set",
        )
        self.entries = {s: Entry(p["image"], p["alpha"], p["trimap"], {"trimap": self.split}) for s, p in pairs.items()}


@dataclass
class InstanceImage:
    """One HIM2K image with all its instance alphas (float32 HxW each), in instance order."""

    name: str
    image: np.ndarray
    alphas: list[np.ndarray]
    instances: list[str]
    meta: dict


class HIM2K(Dataset):
    """HIM2K (Sun et al., InstMatt): images with one alpha per human instance, in ``comp`` and ``natural`` subsets.

    Each instance is a sample (its image, that instance's alpha, no trimap); ``image_names`` and
    ``load_instances(name)`` give whole images with every instance alpha.
    """

    kind = "him2k"
    splits = ("all", "comp", "natural")
    group_keys = ("subset",)
    SUBSETS = ("comp", "natural")

    def __init__(self, root, split=None):
        super().__init__(root, split)
        subsets = self.SUBSETS if self.split == "all" else (self.split,)
        self.images: dict[str, list[str]] = {}
        for subset in subsets:
            image_dir = require_dir(self.root / "images" / subset, f"HIM2K {subset} image")
            alpha_root = require_dir(self.root / "alphas" / subset, f"HIM2K {subset} alpha")
            self._add_images(image_dir, alpha_root, {"subset": subset}, f"{subset}/")

    def _add_images(self, image_dir: Path, alpha_root: Path, meta: dict, prefix: str) -> None:
        """Add every image of ``image_dir`` with its instance alphas ``alpha_root/<stem>/*.png`` as
        ``<prefix><stem>``, one sample per instance with ``meta``."""
        images = files_by_stem(image_dir)
        folders = {p.name for p in alpha_root.iterdir() if p.is_dir()}
        unpaired = ((image_dir, alpha_root, set(images) - folders), (alpha_root, image_dir, folders - set(images)))
        for a, b, lonely in unpaired:
            if lonely:
                raise InputError(
                    f"{len(lonely)} name(s) in {a} have no partner of the same name in {b}: {name_list(lonely)}."
                )
        for stem, image in images.items():
            alphas = files_by_stem(alpha_root / stem)
            if not alphas:
                raise InputError(f"{alpha_root / stem} holds no instance alphas.")
            key = f"{prefix}{stem}"
            self.images[key] = [f"{key}/{i}" for i in alphas]
            for instance, alpha in alphas.items():
                entry_meta = {**meta, "image": key, "instance": instance, **self._instance_meta(stem, instance)}
                self.entries[f"{key}/{instance}"] = Entry(image, alpha, None, entry_meta)

    def _instance_meta(self, stem: str, instance: str) -> dict:
        return {}

    @property
    def image_names(self) -> list[str]:
        return list(self.images)

    def load_instances(self, name: str) -> InstanceImage:
        """The image ``name`` (``<subset>/<stem>``) with all its instance alphas."""
        if name not in self.images:
            raise InputError(f"the HIM2K dataset at {self.root} has no image named {name!r}.")
        samples = [self._entry(n) for n in self.images[name]]
        image = io.load_image(samples[0].image)
        alphas = []
        for entry in samples:
            alpha = io.load_alpha(entry.alpha)
            if alpha.shape != image.shape[:2]:
                raise InputError(f"{entry.alpha} is not the size of its image {entry.image}.")
            alphas.append(alpha)
        meta = {k: samples[0].meta[k] for k in self.group_keys}
        meta["texts"] = [e.meta.get("text") for e in samples]
        return InstanceImage(name, image, alphas, [e.meta["instance"] for e in samples], meta)


class SynthesizedScenes(HIM2K):
    """Synthesized multi-person scenes in the HIM2K layout without subsets: ``images/<name>.jpg``,
    ``alphas/<name>/<instance>.png`` and, optionally, ``captions.json`` ({name: {instance: sentence}}), whose
    sentences become each instance's ``text`` (``mattekit compose --mode scenes`` writes such a folder)."""

    kind = "synth"
    splits = ()
    group_keys = ()
    CAPTIONS = "captions.json"

    def __init__(self, root, split=None):
        Dataset.__init__(self, root, split)
        self.images = {}
        self.captions = {}
        captions = self.root / self.CAPTIONS
        if captions.is_file():
            try:
                self.captions = json.loads(captions.read_text())
            except ValueError as e:
                raise InputError(f"{captions} is not JSON ({e}).") from None
            if not isinstance(self.captions, dict) or not all(isinstance(v, dict) for v in self.captions.values()):
                raise InputError(f"{captions} must map each image name to {{instance: sentence}}.")
        image_dir = require_dir(self.root / "images", "synthesized scenes image")
        self._add_images(image_dir, require_dir(self.root / "alphas", "synthesized scenes alpha"), {}, "")

    def _instance_meta(self, stem: str, instance: str) -> dict:
        text = self.captions.get(stem, {}).get(instance)
        return {"text": text} if text else {}
