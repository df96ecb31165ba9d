"""The ``interpreter`` training task: DFIMat's interpreter (``mattekit.models.interpreter``) learns to read each
person's alpha out of a frozen Stable Diffusion model's features (Jiao et al., DFIMat, ACCV 2024, arXiv 2410.09788,
§4, Fig. 4a: 400 labelled real images with a caption each).

A YAML file with ``task: interpreter`` selects it in ``mattekit train``; its settings (``DEFAULTS``) are read and
overridden as GFM's are (``mattekit.training.config``), and it shares the run folder's checkpoints and logs
(``mattekit.training.checkpoints``, ``trainer.Logs``). Training data: any instance dataset with captions, i.e. the
HIM2K layout (``mattekit.data.readers.HIM2K``; a ``mattekit synthesize`` output is one) plus a captions file,
``{"<subset>/<stem>": sentence}`` (default ``ROOT/captions.json``). Each step takes ``optim.batch_size`` images
in a seeded order, resizes them and their alphas to ``data.size`` squared, flips half of them, encodes them with
the VAE, noises them to ``features.timestep`` and reads ``F̂`` in one U-Net pass (a fresh noise every step),
then updates the interpreter with Eq. 8. One process; the checkpoint ``.safetensors`` files are interpreters
that ``mattekit synthesize --interpreter`` reads. Optimiser: AdamW, as Mask2Former trains its decoder.

Example:
    >>> config = load_config("configs/interpreter.yaml", ["model.diffusion=models/sd15"])   # doctest: +SKIP
    >>> train(config)                                                                        # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml
from tqdm import tqdm

from mattekit.errors import InputError, UsageError
from mattekit.training import checkpoints
from mattekit.training.config import merge, parse_override, read_settings, setting

DEFAULTS: dict = {
    "task": "interpreter",
    "run_dir": "runs/interpreter",
    "seed": 0,
    "device": "auto",
    "progress": True,
    "model": {"diffusion": None, "queries": 20, "width": 256, "layers": 6, "heads": 8},
    "features": {"timestep": 100},
    "data": {"train": None, "split": None, "captions": None, "size": 512, "flip": True},
    "optim": {"lr": 1e-4, "weight_decay": 0.05, "batch_size": 2, "steps": 20000},
    "loss": {"class_weight": 0.1, "alpha_weight": 1.0},
    "checkpoint_every": 500,
    "keep": 2,
    "log_every": 10,
}


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict:
    """``DEFAULTS`` updated by the YAML at ``path`` and by each ``key=value`` override."""
    config = merge(DEFAULTS, read_settings(path)) if path is not None else DEFAULTS
    for text in overrides:
        config = merge(config, parse_override(text))
    for key in ("model.diffusion", "data.train"):
        if not setting(config, key):
            raise UsageError(f"the interpreter task needs {key} (set it in the file or as {key}=...).")
    for key in ("optim.steps", "optim.batch_size", "checkpoint_every", "keep", "log_every", "data.size"):
        value = setting(config, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"training setting {key} must be a whole number of at least 1, not {value!r}.")
    return config


class CaptionedInstances:
    """Images, instance alphas and captions of a HIM2K-layout dataset, resized to ``size`` squared."""

    def __init__(self, spec: str, split: str | None, captions: str | None, size: int):
        from mattekit.data.datasets import open_dataset
        self.dataset = open_dataset(spec, split)
        path = Path(captions) if captions else self.dataset.root / "captions.json"
        if not path.is_file():
            raise InputError(f"the captions file {path} does not exist; set data.captions.")
        self.captions = json.loads(path.read_text())
        self.names = self.dataset.image_names
        lacking = [n for n in self.names if n not in self.captions]
        if lacking:
            raise InputError(f"{path} has no caption for {len(lacking)} image(s), e.g. {lacking[0]}.")
        self.size = size

    def load(self, name: str, flip: bool) -> tuple[np.ndarray, np.ndarray, str]:
        """(uint8 image, float32 alphas (M, size, size), caption)."""
        sample = self.dataset.load_instances(name)
        shape = (self.size, self.size)
        image = cv2.resize(sample.image, shape, interpolation=cv2.INTER_AREA)
        alphas = np.stack([cv2.resize(a, shape, interpolation=cv2.INTER_AREA) for a in sample.alphas])
        if flip:
            image, alphas = image[:, ::-1].copy(), alphas[:, :, ::-1].copy()
        return image, alphas, self.captions[name]


def batch_names(names: list[str], seed: int, step: int, batch: int) -> list[str]:
    """The images of ``step``: consecutive slices of one seeded permutation per pass over ``names``."""
    out = []
    for k in range(step * batch, (step + 1) * batch):
        epoch, position = divmod(k, len(names))
        out.append(names[np.random.default_rng([seed, epoch]).permutation(len(names))[position]])
    return out


def train(config: dict, resume: bool = False) -> list[tuple[int, float]]:
    """Train as ``config`` says; returns this run's (step, loss) pairs."""
    from mattekit.engines.gfm import pick_device
    from mattekit.models.interpreter import Interpreter, interpreter_loss
    from mattekit.synthesis import diffusion
    from mattekit.synthesis.interpret import write_interpreter
    from mattekit.training.trainer import Logs

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UsageError("the interpreter task trains in one process; run it without torchrun.")
    run_dir, optim, timestep = Path(config["run_dir"]), config["optim"], int(config["features"]["timestep"])
    device = pick_device(config["device"])
    torch.manual_seed(config["seed"])
    marker = checkpoints.check_fresh(run_dir / "checkpoints", resume)
    data = CaptionedInstances(config["data"]["train"], config["data"]["split"], config["data"]["captions"],
                              config["data"]["size"])
    sd = diffusion.load_model(config["model"]["diffusion"], device)
    diffusion.check_size(sd, data.size, data.size)
    options = {k: v for k, v in config["model"].items() if k != "diffusion"}
    model = Interpreter(sd.channels(), **options).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=optim["lr"], weight_decay=optim["weight_decay"])
    state = checkpoints.restore(marker, model, optimizer, None) if marker else {"epoch": 0, "step": 0, "best": None}
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoints.atomic_write(run_dir / "config.yaml", lambda tmp: Path(tmp).write_text(yaml.safe_dump(config)))
    logs, history, step = Logs(run_dir, state["step"], True), [], state["step"]
    write = partial(write_interpreter, timestep=timestep)
    for step in tqdm(range(step, optim["steps"]), initial=step, total=optim["steps"], unit="step",
                     disable=not config["progress"]):
        tick = time.perf_counter()
        flips = np.random.default_rng([config["seed"], step]).random(optim["batch_size"]) < 0.5
        levels, targets = [], []
        for k, name in enumerate(batch_names(data.names, config["seed"], step, optim["batch_size"])):
            image, alphas, caption = data.load(name, bool(flips[k]) and config["data"]["flip"])
            noise = torch.Generator().manual_seed(int(np.random.SeedSequence([config["seed"], step, k])
                                                      .generate_state(1)[0]))
            levels.append(diffusion.features(sd, diffusion.encode(sd, image), caption, timestep, noise))
            targets.append(torch.from_numpy(alphas).to(device))
        model.train()
        out = model([torch.cat(scale) for scale in zip(*levels)])
        loss, terms = interpreter_loss(out, targets, **config["loss"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append((step + 1, float(loss.detach())))
        if (step + 1) % config["log_every"] == 0 or step + 1 == optim["steps"]:
            epoch = step * optim["batch_size"] // len(data.names)
            logs.row("log.csv", {"epoch": epoch, "step": step + 1, "loss": history[-1][1],
                                 **{k: float(v) for k, v in terms.items()}, "lr": optim["lr"],
                                 "seconds": time.perf_counter() - tick})
        if (step + 1) % config["checkpoint_every"] == 0 or step + 1 == optim["steps"]:
            checkpoints.save(run_dir / "checkpoints", model, optimizer, None,
                             {"epoch": (step + 1) * optim["batch_size"] // len(data.names), "step": step + 1,
                              "best": None}, config["keep"], write=write)
    return history
