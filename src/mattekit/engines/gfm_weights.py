"""GFM weight files: read (official ``.pth`` or mattekit ``.safetensors``), recognise the variant, write.

Reading never unpickles arbitrary objects: ``.safetensors`` through safetensors, anything else through
``torch.load(weights_only=True)``. A ``{"state_dict": ...}``/``{"model": ...}`` wrapper and a ``module.``
(DataParallel) prefix are accepted. Files written here hold each tensor once (the encoder stages share the
backbone's tensors; the aliases are restored on loading) plus metadata naming the variant, so loading needs no
options; official files are recognised from their keys (FT and BT have identical keys, so for those the file
name must say ``ft``/``bt`` or ``rosta`` must be given).

Example:
    >>> model = build_from_weights("gfm_r34_tt.pth")          # doctest: +SKIP
    >>> model.backbone, model.rosta                              # doctest: +SKIP
    ('r34', 'tt')
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from mattekit.errors import UsageError, WeightsError
from mattekit.io import atomic_path
from mattekit.weights import load_state, local_file
from mattekit.models.gfm import GFM, ROSTAS

FORMAT = "mattekit-gfm"
BACKBONE_MARKERS = (("efficientnet._conv_stem.weight", "efficientnet_lite0"),
                    ("densenet.features.conv0.weight", "d121"),
                    ("encoder6.1.conv1.weight", "r34_2b"),
                    ("resnet.layer1.0.conv3.weight", "r101"),
                    ("resnet.layer1.0.conv1.weight", "r34"))


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The state_dict in ``path`` and its metadata (empty for files not written by mattekit)."""
    path = local_file(path)
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        try:
            with safe_open(str(path), framework="pt") as f:
                return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
        except Exception as e:  # corrupt or truncated
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise WeightsError(f"{path} is not a valid safetensors file ({reason}); fetch it again or pass the "
                               "right file.") from None
    state = load_state(path)
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state_dict of tensors.")
    return {k.removeprefix("module."): v for k, v in state.items()}, {}


def recognise(state: dict, metadata: dict, path: str | os.PathLike = "") -> tuple[str, str]:
    """(backbone, rosta) of a GFM state_dict, from its metadata, else its keys (and file name for FT/BT)."""
    if metadata.get("format") == FORMAT:
        return metadata["backbone"], metadata["rosta"]
    backbone = next((name for key, name in BACKBONE_MARKERS if key in state), None)
    if backbone is None:
        raise WeightsError(f"{path} is not a GFM checkpoint (none of its keys name a GFM encoder).")
    if "rim.0.weight" in state:
        return backbone, "rim"
    heads = [k for k in state if re.fullmatch(r"decoder0_g\.\d+\.weight", k)]
    classes = state[max(heads, key=lambda k: int(k.split(".")[1]))].shape[0] if heads else 0
    if classes == 3:
        return backbone, "tt"
    found = re.findall(r"(?<![a-z])(ft|bt)(?![a-z])", Path(path).stem.lower())
    if classes == 2 and len(set(found)) == 1:
        return backbone, found[0]
    if classes == 2:
        raise UsageError(f"{path} is a 2-class (FT or BT) GFM checkpoint and its keys cannot tell which; "
                         f"pass rosta 'ft' or 'bt' (--rosta).")
    raise WeightsError(f"{path} is not a GFM checkpoint (no glance head decoder0_g).")


def complete_aliases(model: torch.nn.Module, state: dict) -> dict:
    """Add the names that share a tensor with a name present in ``state`` (``encoder2.*`` from ``resnet.layer2.*``)."""
    groups: dict[int, list[str]] = {}
    for key, value in model.state_dict(keep_vars=True).items():  # aliases are the same Parameter object
        groups.setdefault(id(value), []).append(key)
    state = dict(state)
    for names in groups.values():
        present = next((n for n in names if n in state), None)
        if present is not None:
            for name in names:
                state.setdefault(name, state[present])
    return state


def mismatch(expected: dict, state: dict) -> str:
    """In words, how ``state`` differs from ``expected`` (keys and shapes), '' when it fits."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    parts = [f"{len(keys)} {what} such as {keys[0]}" for keys, what in
             ((missing, "missing keys"), (unexpected, "unexpected keys"), (shapes, "shape mismatches")) if keys]
    return "; ".join(parts)


def build_from_weights(path: str | os.PathLike, backbone: str | None = None, rosta: str | None = None,
                       **options) -> GFM:
    """A GFM in eval mode holding the weights in ``path``; ``backbone``/``rosta`` override recognition."""
    state, metadata = read_weights(path)
    try:
        found = recognise(state, metadata, path)
    except (UsageError, WeightsError):
        if not (backbone and rosta):
            raise
        found = ("unknown", "unknown")
    backbone, rosta = backbone or found[0], rosta or found[1]
    if rosta not in ROSTAS:
        raise UsageError(f"unknown RoSTa {rosta!r}; choose one of: {', '.join(ROSTAS)}.")
    options = {**json.loads(metadata.get("options", "{}")), **options}
    with torch.device("meta"):  # no random initialisation: every tensor comes from the file
        model = GFM(backbone, rosta, **options)
    state = complete_aliases(model, state)
    problem = mismatch(model.state_dict(), state)
    if problem:
        raise WeightsError(f"{path} does not fit GFM({backbone!r}, {rosta!r}): {problem} (recognised from the "
                           f"file: {found[0]}, {found[1]}).")
    model.load_state_dict(state, strict=True, assign=True)
    return model.float().eval()


def unique_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict with each shared tensor once (first name wins), contiguous, on the CPU."""
    seen, out = set(), {}
    for key, value in model.state_dict().items():
        if value.data_ptr() not in seen:
            seen.add(value.data_ptr())
            out[key] = value.detach().to("cpu").contiguous()
    return out


def model_metadata(model: GFM) -> dict[str, str]:
    """What :func:`recognise` and :func:`build_from_weights` need: variant and construction options."""
    return {"format": FORMAT, "backbone": model.backbone, "rosta": model.rosta,
            "options": json.dumps(model.options, sort_keys=True)}


def write_weights(model: GFM, path: str | os.PathLike) -> Path:
    """Write ``model``'s weights to ``path`` (.safetensors) atomically, with metadata for :func:`recognise`."""
    from safetensors.torch import save_file
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(unique_state(model), tmp, metadata=model_metadata(model))
    return path
