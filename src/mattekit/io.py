"""Reading and writing images, alphas and trimaps: every conversion and every check happens here, once.

Readers return the API's types: image ``uint8`` RGB HxWx3, alpha ``float32`` HxW in [0, 1], trimap ``uint8``
HxW with values 0/128/255. EXIF orientation is applied; grey, RGBA, palette, 16-bit and CMYK files are converted;
the pixel count is checked from the header before anything is decoded; a file that fails to decode, however it
fails, is refused in one sentence. Writers are atomic: a temporary file in the target folder, given the mode an
ordinary ``open`` would give under the process umask, written, flushed to disk, renamed into place, and the folder
flushed too, so neither an interrupted run nor a power cut leaves a half-written file under the final name.

Example:
    >>> import numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> save_alpha(os.path.join(folder, "a.png"), np.array([[0.0, 1.0]], np.float32))
    >>> load_alpha(os.path.join(folder, "a.png")).tolist()
    [[0.0, 1.0]]
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageOps, UnidentifiedImageError

from mattekit.errors import InputError, UsageError

DEFAULT_MAX_PIXELS = 100_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# every suffix of a format Pillow can read (GIF, TGA, PPM, ICO, ...): a folder's files with one of these are matted
READABLE_SUFFIXES = tuple(sorted(set(IMAGE_SUFFIXES) | {suffix for suffix, kind in Image.registered_extensions().items()
                                                        if kind in Image.OPEN}))
TRIMAP_VALUES = (0, 128, 255)

Image.MAX_IMAGE_PIXELS = None  # our own limit below is checked before decoding and names the file


def _open(path: str | os.PathLike, max_pixels: int | None) -> Image.Image:
    """Open and decode ``path`` with its EXIF orientation applied, or raise InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file.")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes).")
    return _decode(path, str(path), max_pixels)


def _decode(source, name: str, max_pixels: int | None) -> Image.Image:
    """Decode ``source`` (a path or a binary file object) called ``name`` in messages, pixel count checked first.
    A file that fails to decode, however its format plugin fails, is refused in one line; the warnings of Pillow's
    plugins about odd but readable files are silenced (the outcome is a decoded image or a sentence)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _decode_quietly(source, name, max_pixels)


def _decode_quietly(source, name: str, max_pixels: int | None) -> Image.Image:
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    try:
        im = Image.open(source)
    except UnidentifiedImageError:
        raise InputError(f"{name} is not an image that can be read (PNG, JPEG, TIFF, BMP, WebP).") from None
    except OSError as e:
        raise InputError(f"{name} cannot be read: {e.strerror or _reason(e)}.") from None
    except Exception as e:  # a corrupt header can make a format plugin fail in any way
        raise InputError(f"{name} has a corrupt header ({type(e).__name__}: {_reason(e)}).") from None
    width, height = im.size
    if width < 1 or height < 1:
        raise InputError(f"{name} declares {width}x{height} pixels: it holds no image.")
    if width * height > limit:
        raise InputError(
            f"{name} has {width}x{height} = {width * height / 1e6:.1f} megapixels, over the limit of "
            f"{limit / 1e6:g}; downscale it or raise the limit (--max-pixels)."
        )
    try:
        im.load()
        return ImageOps.exif_transpose(im)
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{name} is truncated or corrupt ({_reason(e)}).") from None
    except Exception as e:  # a corrupt stream can make a decoder fail in any way
        raise InputError(f"{name} is truncated or corrupt ({type(e).__name__}: {_reason(e)}).") from None


def _reason(error: Exception) -> str:
    """The first line of ``error``'s message, so that a refusal stays one line."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _to_8bit(arr: np.ndarray) -> np.ndarray:
    """Integer or float pixel values to uint8: 16-bit by /257, float in [0, 1] by x255."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.integer):
        top = 65535 if arr.max(initial=0) > 255 else 255
        return np.round(arr.astype(np.float64) * (255.0 / top)).clip(0, 255).astype(np.uint8)
    return np.round(np.clip(arr.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Any PIL mode (1, L, LA, P, RGB, RGBA, CMYK, I;16, I, F, ...) to uint8 RGB HxWx3."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = _to_8bit(np.asarray(im))
        return np.repeat(grey[..., None], 3, axis=2)
    if im.mode == "P":
        im = im.convert("RGBA")
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _pil_to_grey(im: Image.Image) -> np.ndarray:
    """A one-channel reading of ``im`` at its full precision (first channel for RGB files stored as grey)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L", "1"):
        return np.asarray(im)
    if im.mode == "P":
        im = im.convert("RGB")
    if im.mode in ("LA", "RGB", "RGBA", "CMYK", "YCbCr"):
        return np.asarray(im.convert("RGB"))[..., 0]
    return np.asarray(im.convert("L"))


def as_rgb(image, max_pixels: int | None = None) -> np.ndarray:
    """A path, PIL image or array as uint8 RGB HxWx3 (grey, RGBA, 16-bit and float arrays converted).

    >>> as_rgb(np.zeros((2, 3), np.uint16)).shape
    (2, 3, 3)
    """
    if isinstance(image, (str, os.PathLike)):
        im = _open(image, max_pixels)
        try:
            return _pil_to_rgb(im)
        except (ValueError, OSError, TypeError) as e:
            raise InputError(f"{image} has pixels of a kind that cannot be converted to RGB ({im.mode}: "
                             f"{_reason(e)}).") from None
    if isinstance(image, Image.Image):
        return _pil_to_rgb(ImageOps.exif_transpose(image))
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.size == 0:
        raise InputError(f"an image array must be HxW, HxWx3 or HxWx4, not of shape {arr.shape}.")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"an image array must hold numbers, not {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.floating) and (arr.min() < 0 or arr.max() > 1):
        raise InputError("a float image array must hold values in [0, 1]; pass uint8 for 0-255 values.")
    return np.ascontiguousarray(_to_8bit(arr[..., :3]))


def load_image(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Read ``path`` as uint8 RGB HxWx3 (see the module docstring for what is converted and checked)."""
    return as_rgb(Path(path), max_pixels)


def load_alpha(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Read an alpha matte as float32 HxW in [0, 1]; 16-bit files keep their precision."""
    grey = _pil_to_grey(_open(path, max_pixels))
    if grey.dtype == np.uint8 or grey.dtype == bool:
        return grey.astype(np.float32) / (1.0 if grey.dtype == bool else 255.0)
    if np.issubdtype(grey.dtype, np.integer):
        return (grey.astype(np.float32) / (65535.0 if grey.max(initial=0) > 255 else 255.0)).clip(0, 1)
    return grey.astype(np.float32).clip(0, 1)


def decode_image(data: bytes, name: str, max_pixels: int | None = None) -> np.ndarray:
    """An image file's bytes (an upload) as uint8 RGB HxWx3, checked and converted as ``load_image``; ``name``
    says in messages where the bytes came from.

    >>> decode_image(b"GIF8 but not really", "the upload")
    Traceback (most recent call last):
    mattekit.errors.InputError: the upload is not an image that can be read (PNG, JPEG, TIFF, BMP, WebP).
    """
    if not data:
        raise InputError(f"{name} is empty (0 bytes).")
    return _pil_to_rgb(_decode(BytesIO(data), name, max_pixels))


def check_trimap(trimap: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    """Validate a trimap array against an image of ``shape`` (H, W); ``name`` says where it came from."""
    trimap = np.asarray(trimap)
    if trimap.ndim == 3:
        trimap = trimap[..., 0]
    if trimap.shape != tuple(shape):
        raise InputError(
            f"{name} is {trimap.shape[1]}x{trimap.shape[0]} but its image is {shape[1]}x{shape[0]}; "
            "a trimap must have the image's size."
        )
    trimap = _to_8bit(trimap) if trimap.dtype != np.uint8 else trimap
    stray = np.setdiff1d(np.unique(trimap), TRIMAP_VALUES)
    if stray.size:
        raise InputError(
            f"{name} holds values other than 0, 128 and 255 (for example {int(stray[0])}); "
            "a trimap marks background 0, unknown 128 and foreground 255."
        )
    return np.ascontiguousarray(trimap)


def load_trimap(path: str | os.PathLike, shape: tuple[int, int]) -> np.ndarray:
    """Read a trimap for an image of ``shape`` (H, W) as uint8 with values 0/128/255, or raise naming the file."""
    return check_trimap(_to_8bit(_pil_to_grey(_open(path, None))), shape, str(path))


def decode_trimap(data: bytes, name: str, shape: tuple[int, int]) -> np.ndarray:
    """A trimap file's bytes (an upload) for an image of ``shape`` (H, W), checked as ``load_trimap``."""
    if not data:
        raise InputError(f"{name} is empty (0 bytes).")
    return check_trimap(_to_8bit(_pil_to_grey(_decode(BytesIO(data), name, None))), shape, name)


def parse_colour(spec: str) -> tuple[int, int, int] | None:
    """A colour name, ``#rrggbb`` or ``r,g,b`` as an RGB triple of 0-255 values; None if ``spec`` is none of those.

    >>> parse_colour("#ff8000"), parse_colour("0,128,255"), parse_colour("photo.jpg")
    ((255, 128, 0), (0, 128, 255), None)
    """
    try:
        parts = [int(v) for v in spec.split(",")] if "," in spec else list(ImageColor.getrgb(spec))[:3]
    except ValueError:
        return None
    return tuple(parts) if len(parts) == 3 and all(0 <= v <= 255 for v in parts) else None


def parse_background(spec: str, shape: tuple[int, int]) -> np.ndarray:
    """A background for compositing: a colour (``white``, ``#00ff00``, ``0,128,255``) or an image path.

    Images are resized (cover and centre-crop) to ``shape`` (H, W). Returns uint8 HxWx3.

    >>> parse_background("#ff0000", (1, 2)).tolist()
    [[[255, 0, 0], [255, 0, 0]]]
    """
    height, width = shape
    colour = parse_colour(spec)
    if colour is not None:
        return np.broadcast_to(np.array(colour, np.uint8), (height, width, 3)).copy()
    if not Path(spec).is_file():
        raise InputError(f"background {spec!r} is neither a colour (name, #rrggbb or r,g,b) nor an image file.")
    im = Image.fromarray(load_image(spec))
    return np.asarray(ImageOps.fit(im, (width, height), Image.Resampling.LANCZOS))


def _umask() -> int:
    """The process umask, read without changing it where Linux tells it (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path: Path, folder: bool = False) -> None:
    """Flush ``path`` (a file, or a folder's entries) to the disk."""
    if folder and not hasattr(os, "O_DIRECTORY"):
        return  # folders cannot be opened for syncing on Windows
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if folder else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def output_folder(path: str | os.PathLike) -> Path:
    """The folder ``path``, created if needed, or an InputError in one sentence when it cannot be: checked before
    a command loads anything heavy.

    >>> output_folder("/proc/no/such/folder")
    Traceback (most recent call last):
    mattekit.errors.InputError: cannot create the output folder /proc/no/such/folder (No such file or directory).
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output folder {path} ({e.strerror or e}).") from None
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) that is renamed to ``path`` when the block succeeds and
    deleted when it fails, so ``path`` is either complete or untouched. The parent folder is created. The file
    gets the mode ``open`` would give it (0666 less the umask); it is flushed to disk before the rename and the
    folder after it.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        tmp.chmod(0o666 & ~_umask())
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, folder=True)
    finally:
        tmp.unlink(missing_ok=True)


_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[a-z0-9_]{8}(?P<suffix>\.[^.]*)?$")


def remove_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that ``atomic_path`` left in ``folder`` when its process was killed (the process
    that made each is named in it and no longer runs); a resumed job calls this. Returns the deleted paths.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".a.png.999999999.k2j4h5g6.png").write_bytes(b"half")  # no such process
    >>> _ = (folder / ".hidden").write_bytes(b"kept")
    >>> [p.name for p in remove_leftovers(folder)], sorted(p.name for p in folder.iterdir())
    (['.a.png.999999999.k2j4h5g6.png'], ['.hidden'])
    """
    removed = []
    for path in Path(folder).glob(".*"):
        found = _TEMPORARY.match(path.name)
        if found and path.is_file() and not _running(int(found["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid < 2 ** 31  # another user's process, or a number no process can have
    return True


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def check_settings(path: str | os.PathLike, wanted: dict) -> None:
    """Refuse to resume a job whose settings file ``path`` holds settings other than ``wanted``: a UsageError
    naming each setting that differs, with both values (nothing to refuse when there is no file yet).

    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> record_settings(folder / "settings.json", {"seed": 3})
    >>> check_settings(folder / "settings.json", {"seed": 4})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    mattekit.errors.UsageError: ... holds a run with other settings (seed=3, not 4); resume with the same settings ...
    """
    path = Path(path)
    if not path.is_file():
        return
    found, wanted = json.loads(path.read_text()), json.loads(json.dumps(wanted))  # tuples compare as lists
    changed = [_change(k, found.get(k), wanted.get(k)) for k in sorted(set(found) | set(wanted))
               if found.get(k) != wanted.get(k)]
    if changed:
        raise UsageError(f"{path.parent} holds a run with other settings ({'; '.join(changed)}); resume with the "
                         "same settings or choose another output folder (-o).")


def _change(key: str, before, now) -> str:
    """``key=before, not now``, or ``key differs`` where a value is too long to read in a sentence."""
    before, now = repr(before), repr(now)
    return f"{key} differs" if max(len(before), len(now)) > 100 else f"{key}={before}, not {now}"


def record_settings(path: str | os.PathLike, wanted: dict) -> None:
    """A resumable job's settings: refused when ``path`` holds others (``check_settings``), written there
    (atomically) when there is no file yet."""
    check_settings(path, wanted)
    if not Path(path).is_file():
        write_text(path, json.dumps(wanted, indent=2) + "\n")


def _atomic_save(path: str | os.PathLike, im: Image.Image) -> None:
    image_format = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    # zlib level 1: four times faster than Pillow's default 6 on photos, and about as small
    options = {"compress_level": 1} if image_format == "PNG" else {}
    with atomic_path(path) as tmp:
        im.save(tmp, format=image_format, **options)


def save_alpha(path: str | os.PathLike, alpha: np.ndarray) -> None:
    """Write alpha (float in [0, 1] or uint8) as an 8-bit grey PNG, atomically."""
    _atomic_save(path, Image.fromarray(_to_8bit(np.asarray(alpha)), mode="L"))


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write uint8 HxWx3 (RGB) or HxWx4 (RGBA) atomically; the format follows the suffix."""
    _atomic_save(path, Image.fromarray(np.asarray(image, np.uint8)))


def list_inputs(inputs: list[str | os.PathLike]) -> tuple[list[Path], dict[Path, str]]:
    """Files and folders (not recursive) as (image paths in the order given, folders' files sorted; the other
    files of those folders with the reason each is skipped). A missing path raises InputError; a file named
    directly is always an input (its decoding decides); a folder contributes every file of a format Pillow reads.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a.png", "b.gif", "notes.txt"): _ = (folder / name).write_bytes(b"")
    >>> images, skipped = list_inputs([folder])
    >>> [p.name for p in images], [(p.name, why) for p, why in skipped.items()]
    (['a.png', 'b.gif'], [('notes.txt', 'not an image: no image format has the suffix .txt')])
    """
    found: list[Path] = []
    skipped: dict[Path, str] = {}
    for item in map(Path, inputs):
        if item.is_dir():
            for path in sorted(p for p in item.iterdir() if p.is_file()):
                if path.suffix.lower() in READABLE_SUFFIXES:
                    found.append(path)
                else:
                    skipped[path] = f"not an image: no image format has the suffix {path.suffix or '(none)'}"
        elif item.exists():
            found.append(item)
        else:
            raise InputError(f"{item} does not exist.")
    return found, skipped


def find_images(inputs: list[str | os.PathLike]) -> list[Path]:
    """The image paths of ``list_inputs``: files as given, folders' files of a format Pillow reads."""
    return list_inputs(inputs)[0]
