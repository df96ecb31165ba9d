"""DFIMat weight files: ISCN and MRN in one ``.safetensors`` file or in two, each with its settings as metadata.

A file holds tensors named ``iscn.*`` and/or ``mrn.*`` and the metadata ``format: mattekit-dfimat``,
``iscn_settings``/``mrn_settings`` (JSON). The frozen MiniLM text encoder is not written (it comes from its own
pinned file), nor a second name of a shared tensor (the backbone's stages share its modules). Loading builds
each part from its settings and loads it strictly; reading never unpickles.

Example:
    >>> write_dfimat("dfimat.safetensors", iscn=ISCN(iscn_settings("tiny")))      # doctest: +SKIP
    >>> iscn, mrn = read_dfimat(["dfimat.safetensors"])                             # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from mattekit.engines.gfm_weights import complete_aliases, mismatch, read_weights, unique_state
from mattekit.errors import UsageError, WeightsError
from mattekit.io import atomic_path
from mattekit.models.dfimat import ISCN, MRN, iscn_settings, mrn_settings

FORMAT = "mattekit-dfimat"
FROZEN = "iscn.text_encoder.encoder."  # the MiniLM encoder's tensors: never written


def parts_state(iscn: ISCN | None = None, mrn: MRN | None = None) -> tuple[dict, dict]:
    """(tensors, metadata) of the parts given."""
    state, metadata = {}, {"format": FORMAT}
    for name, model in (("iscn", iscn), ("mrn", mrn)):
        if model is None:
            continue
        metadata[f"{name}_settings"] = json.dumps(model.settings.as_dict(), sort_keys=True)
        for key, value in unique_state(model).items():
            if not f"{name}.{key}".startswith(FROZEN):
                state[f"{name}.{key}"] = value
    return state, metadata


def write_dfimat(path: str | os.PathLike, iscn: ISCN | None = None, mrn: MRN | None = None) -> Path:
    """Write the parts given to ``path`` (.safetensors) atomically."""
    from safetensors.torch import save_file
    if iscn is None and mrn is None:
        raise UsageError("a DFIMat weight file needs ISCN, MRN or both.")
    state, metadata = parts_state(iscn, mrn)
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, tmp, metadata=metadata)
    return path


def build_part(name: str, settings_json: str, state: dict, path) -> torch.nn.Module:
    settings = json.loads(settings_json)
    model = ISCN(iscn_settings(**settings)) if name == "iscn" else MRN(mrn_settings(**settings))
    own = complete_aliases(model, {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(f"{name}.")})
    expected = {k: v for k, v in model.state_dict().items() if not f"{name}.{k}".startswith(FROZEN)}
    problem = mismatch(expected, own)
    if problem:
        raise WeightsError(f"{path} does not fit the {name.upper()} its settings describe: {problem}.")
    model.load_state_dict({**model.state_dict(), **own}, strict=True)
    return model.eval()


def is_dfimat_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a readable ``.safetensors`` file written as DFIMat weights (its metadata only is read)."""
    from safetensors import safe_open
    if not (str(path).endswith(".safetensors") and Path(path).is_file()):
        return False
    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("format") == FORMAT
    except Exception:  # not a safetensors file: let the GFM reader say what is wrong with it
        return False


def read_dfimat(paths) -> tuple[ISCN | None, MRN | None]:
    """ISCN and MRN (None where no file holds it) from one path, paths joined by commas, or a list of paths."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [p for p in str(paths).split(",") if p]
    parts: dict[str, torch.nn.Module] = {}
    for path in paths:
        state, metadata = read_weights(path)
        if metadata.get("format") != FORMAT:
            raise WeightsError(f"{path} is not a DFIMat weight file (written by mattekit train or write_dfimat).")
        for name in ("iscn", "mrn"):
            if f"{name}_settings" in metadata:
                if name in parts:
                    raise UsageError(f"two of the weight files given hold {name.upper()}; give it once.")
                parts[name] = build_part(name, metadata[f"{name}_settings"], state, path)
    return parts.get("iscn"), parts.get("mrn")
