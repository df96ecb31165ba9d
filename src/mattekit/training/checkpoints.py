"""Training checkpoints in ``RUN_DIR/checkpoints``: ``step-NNNNNNNN.safetensors`` (the model as the task writes it,
loadable by its engine), ``.optim.pt`` (optimizer, grad-scaler and RNG state: tensors and numbers only, read back with
``weights_only=True``) and ``.json`` (epoch, step, best score), each written atomically, the JSON last: a
checkpoint counts only once its JSON exists. ``best.safetensors``/``best.json`` hold the best validated model.

Example:
    >>> latest(Path("runs/gfm/checkpoints"))              # doctest: +SKIP
    PosixPath('runs/gfm/checkpoints/step-00001800.json')
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from mattekit.errors import UsageError
from mattekit.io import atomic_path, remove_leftovers


def atomic_write(path: Path, write) -> None:
    """Call ``write(temporary_path)`` and move the result to ``path`` (nothing half-written is left)."""
    with atomic_path(path) as tmp:
        write(tmp)


def save(folder: Path, model, optimizer, scaler, state: dict, write_weights, keep: int = 2) -> Path:
    """Write the checkpoint of ``state["step"]`` (the model with ``write_weights(model, path)``) and drop all but
    the ``keep`` newest."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"step-{state['step']:08d}"
    write_weights(model, stem.with_suffix(".safetensors"))
    extra = {"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state()}
    if scaler is not None:
        extra["scaler"] = scaler.state_dict()
    atomic_write(stem.with_suffix(".optim.pt"), lambda tmp: torch.save(extra, tmp))
    atomic_write(stem.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(state, indent=1)))
    for old in sorted(folder.glob("step-*.json"))[:-keep]:
        for suffix in (".safetensors", ".optim.pt", ".json"):
            old.with_suffix("").with_suffix(suffix).unlink(missing_ok=True)
    return stem.with_suffix(".json")


def latest(folder: Path) -> Path | None:
    """The JSON of the newest complete checkpoint in ``folder``, or None."""
    found = sorted(folder.glob("step-*.json")) if folder.is_dir() else []
    return found[-1] if found else None


def restore(marker: Path, model, optimizer, scaler, read_weights) -> dict:
    """Load the checkpoint whose JSON is ``marker`` into ``model`` (with ``read_weights(model, path)``),
    ``optimizer`` and ``scaler``; its state."""
    stem = marker.with_suffix("")
    read_weights(model, stem.with_suffix(".safetensors"))
    extra = torch.load(stem.with_suffix(".optim.pt"), map_location="cpu", weights_only=True)
    optimizer.load_state_dict(extra["optimizer"])
    if scaler is not None and "scaler" in extra:
        scaler.load_state_dict(extra["scaler"])
    torch.set_rng_state(extra["torch_rng"])
    return json.loads(marker.read_text())


def save_best(folder: Path, marker: Path, record: dict) -> None:
    """Copy the model of checkpoint ``marker`` to ``best.safetensors`` and note ``record`` in ``best.json``."""
    source = marker.with_suffix("").with_suffix(".safetensors")
    atomic_write(folder / "best.safetensors", lambda tmp: shutil.copyfile(source, tmp))
    atomic_write(folder / "best.json", lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1)))


def check_fresh(folder: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (``resume``), or None for a new run in an empty folder."""
    if folder.is_dir():
        remove_leftovers(folder)  # temporary files of a run that was killed
    found = latest(folder)
    if resume and found is None:
        raise UsageError(f"--resume: {folder} holds no checkpoint to resume from.")
    if not resume and found is not None:
        raise UsageError(f"{folder} already holds checkpoints; pass --resume to continue, or another run_dir.")
    return found
