"""Training tasks by name: what ``mattekit.training.trainer`` asks of a task (``task`` in the configuration).

A task is built from the configuration and gives the trainer everything that is not the loop:

- ``build(fresh) -> nn.Module``: the trained model (``fresh``: a new run, so pretrained weights may be loaded);
- ``dataset()``, ``collate`` (a collate function or None for torch's) and ``to_batch(collated, device)``;
- ``loss(net, batch, cast) -> (loss, terms)``: forward (under the autocast context ``cast``) and loss;
- ``check_validation()`` (before training) and ``validate(model, device) -> scores`` (lower ``val.metric`` wins);
- ``write_weights(model, path)`` / ``read_weights(model, path)``: the checkpoint's model file.

Tasks: ``gfm`` (``task_gfm``), ``iscn`` and ``mrn`` (DFIMat's two stages, ``task_dfimat``) and DFIMat's
diffusion-feature ``interpreter`` (``interpreter``).

Example:
    >>> sorted(TASKS)
    ['gfm', 'interpreter', 'iscn', 'mrn']
"""

from __future__ import annotations

import importlib

from mattekit.errors import UsageError

TASKS = {"gfm": "mattekit.training.task_gfm:GFMTask", "iscn": "mattekit.training.task_dfimat:ISCNTask",
         "mrn": "mattekit.training.task_dfimat:MRNTask",
         "interpreter": "mattekit.training.interpreter:InterpreterTask"}


def build_task(config: dict):
    """The task object that ``config["task"]`` names."""
    name = config["task"]
    if name not in TASKS:
        raise UsageError(f"unknown training task {name!r}; choose one of: {', '.join(sorted(TASKS))}.")
    module, cls = TASKS[name].split(":")
    return getattr(importlib.import_module(module), cls)(config)
