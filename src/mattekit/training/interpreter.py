"""The ``interpreter`` training task: DFIMat's interpreter (``mattekit.models.interpreter``) learns to read each
person's alpha out of a frozen Stable Diffusion model's features (Jiao et al., DFIMat, ACCV 2024, arXiv 2410.09788,
§4, Fig. 4a: 400 labelled real images with a caption each).

A YAML file with ``task: interpreter`` selects it in ``mattekit train``; its settings (``DEFAULTS``) are read and
overridden as GFM's are (``mattekit.training.config``), and it shares the run folder's checkpoints and logs
(``mattekit.training.checkpoints``, ``trainer.Logs``). ``InterpreterTask`` holds everything but the loop, in the
shape of the trainer's task plug-ins (build, dataset, collate, to_batch, loss, weight files); ``train`` is a short
single-process loop over it until the shared trainer takes plug-ins. Training data: any instance dataset with captions, i.e. the
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
from contextlib import nullcontext
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


class CaptionedInstances(torch.utils.data.Dataset):
    """Images, instance alphas and captions of a HIM2K-layout dataset, resized to ``size`` squared; item ``i``
    is flipped left-right in half of the (seed, epoch, i) draws when ``flip``."""

    def __init__(self, spec: str, split: str | None, captions: str | None, size: int, flip: bool, seed: int):
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
        self.size, self.flip, self.seed, self.epoch = size, flip, seed, 0

    def __len__(self) -> int:
        return len(self.names)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        """``{"image": uint8 (size, size, 3), "alphas": float32 (M, size, size), "caption": str}``."""
        name = self.names[index]
        sample = self.dataset.load_instances(name)
        shape = (self.size, self.size)
        image = cv2.resize(sample.image, shape, interpolation=cv2.INTER_AREA)
        alphas = np.stack([cv2.resize(a, shape, interpolation=cv2.INTER_AREA) for a in sample.alphas])
        if self.flip and np.random.default_rng([self.seed, self.epoch, index]).random() < 0.5:
            image, alphas = image[:, ::-1].copy(), alphas[:, :, ::-1].copy()
        return {"image": image, "alphas": alphas, "caption": self.captions[name]}


def as_list(items: list) -> list:
    """Collation that keeps the items (their instance counts differ)."""
    return items


class InterpreterTask:
    """What a training loop needs of the interpreter, in the shape of a trainer task plug-in: ``build``,
    ``dataset``, ``collate``, ``to_batch`` (features of the frozen diffusion model, computed on ``device``),
    ``loss``, ``write_weights``/``read_weights``. The diffusion model is loaded on first use."""

    name = "interpreter"
    collate = staticmethod(as_list)

    def __init__(self, config: dict):
        self.config = config
        self.timestep = int(config["features"]["timestep"])
        self._sd = None

    def diffusion_model(self, device: torch.device | None = None):
        from mattekit.engines.gfm import pick_device
        from mattekit.synthesis import diffusion
        if self._sd is None:
            self._sd = diffusion.load_model(self.config["model"]["diffusion"], device or pick_device(
                self.config["device"]))
            size = self.config["data"]["size"]
            diffusion.check_size(self._sd, size, size)
        return self._sd

    def build(self, fresh: bool = True):
        from mattekit.models.interpreter import Interpreter
        options = {k: v for k, v in self.config["model"].items() if k != "diffusion"}
        return Interpreter(self.diffusion_model().channels(), **options)

    def dataset(self) -> CaptionedInstances:
        data = self.config["data"]
        return CaptionedInstances(data["train"], data["split"], data["captions"], data["size"], data["flip"],
                                  self.config["seed"])

    def to_batch(self, collated: list[dict], device: torch.device) -> dict:
        """Feature levels (batched) and instance alphas (a list) of the items; each item's noise is seeded from
        torch's global generator (which checkpoints save and restore)."""
        from mattekit.synthesis import diffusion
        sd = self.diffusion_model(device)
        seeds = torch.randint(2**62, (len(collated),)).tolist()
        levels = [diffusion.features(sd, diffusion.encode(sd, item["image"]), item["caption"], self.timestep,
                                     torch.Generator().manual_seed(seed)) for item, seed in zip(collated, seeds)]
        return {"levels": [torch.cat(scale) for scale in zip(*levels)],
                "targets": [torch.from_numpy(item["alphas"]).to(device) for item in collated]}

    def loss(self, net, batch: dict, cast=None) -> tuple[torch.Tensor, dict]:
        from mattekit.models.interpreter import interpreter_loss
        with cast or nullcontext():
            out = net(batch["levels"])
        out = {"logits": out["logits"].float(), "alphas": out["alphas"].float(),
               "aux": [{k: v.float() for k, v in layer.items()} for layer in out["aux"]]}
        return interpreter_loss(out, batch["targets"], **self.config["loss"])

    def write_weights(self, model, path) -> None:
        from mattekit.synthesis.interpret import write_interpreter
        write_interpreter(model, path, self.timestep)

    def read_weights(self, model, path) -> None:
        from mattekit.engines.gfm_weights import read_weights
        model.load_state_dict(read_weights(path)[0])


def batch_indices(count: int, seed: int, step: int, batch: int) -> list[tuple[int, int]]:
    """(epoch, item) pairs of ``step``: consecutive slices of one seeded permutation per pass over ``count``."""
    out = []
    for k in range(step * batch, (step + 1) * batch):
        epoch, position = divmod(k, count)
        out.append((epoch, int(np.random.default_rng([seed, epoch]).permutation(count)[position])))
    return out


def train(config: dict, resume: bool = False) -> list[tuple[int, float]]:
    """Train as ``config`` says with the ``InterpreterTask``; returns this run's (step, loss) pairs."""
    from mattekit.engines.gfm import pick_device
    from mattekit.training.trainer import Logs

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UsageError("the interpreter task trains in one process; run it without torchrun.")
    run_dir, optim, seed = Path(config["run_dir"]), config["optim"], config["seed"]
    device = pick_device(config["device"])
    torch.manual_seed(seed)
    marker = checkpoints.check_fresh(run_dir / "checkpoints", resume)
    task = InterpreterTask(config)
    dataset = task.dataset()
    task.diffusion_model(device)
    model = task.build(marker is None).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=optim["lr"], weight_decay=optim["weight_decay"])
    state = {"epoch": 0, "step": 0, "best": None}
    if marker:
        state = checkpoints.restore(marker, model, optimizer, None, task.read_weights)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoints.atomic_write(run_dir / "config.yaml", lambda tmp: Path(tmp).write_text(yaml.safe_dump(config)))
    logs, history, step = Logs(run_dir, state["step"], True), [], state["step"]
    for step in tqdm(range(step, optim["steps"]), initial=step, total=optim["steps"], unit="step",
                     disable=not config["progress"]):
        tick = time.perf_counter()
        items = []  # the epoch's seeded order; flips drawn per (seed, epoch, item)
        for epoch, index in batch_indices(len(dataset), seed, step, optim["batch_size"]):
            dataset.set_epoch(epoch)
            items.append(dataset[index])
        model.train()
        loss, terms = task.loss(model, task.to_batch(task.collate(items), device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append((step + 1, float(loss.detach())))
        epoch = (step + 1) * optim["batch_size"] // len(dataset)
        if (step + 1) % config["log_every"] == 0 or step + 1 == optim["steps"]:
            logs.row("log.csv", {"epoch": step * optim["batch_size"] // len(dataset), "step": step + 1,
                                 "loss": history[-1][1], **{k: float(v) for k, v in terms.items()},
                                 "lr": optim["lr"], "seconds": time.perf_counter() - tick})
        if (step + 1) % config["checkpoint_every"] == 0 or step + 1 == optim["steps"]:
            checkpoints.save(run_dir / "checkpoints", model, optimizer, None,
                             {"epoch": epoch, "step": step + 1, "best": None}, task.write_weights, config["keep"])
    return history
