"""The ``interpreter`` training task: DFIMat's interpreter (``mattekit.models.interpreter``) learns to read each
person's alpha out of a frozen Stable Diffusion model's features (Jiao et al., DFIMat, ACCV 2024, arXiv 2410.09788,
§4, Fig. 4a: 400 labelled real images with a caption each).

A YAML file with ``task: interpreter`` selects it; the shared trainer (``mattekit.training.trainer``) runs it like
every task: one process or DDP under torchrun, AMP on GPU, exact resume, the run folder's logs and checkpoints. Its
own settings are ``interpreter.*`` (``mattekit.training.config``): the diffusion folder, the timestep, the
interpreter's size, the captions file and Eq. 8's weights. Training data (``data.train``): any instance dataset in
the HIM2K layout (``mattekit.data.readers.HIM2K``; a ``mattekit synthesize`` output is one, ``data.split``) plus a
captions file, ``{"<subset>/<stem>": sentence}`` (``interpreter.captions``, default ``ROOT/captions.json``). Each
image and its alphas are resized to ``data.output`` squared and flipped in half of the draws (``data.augment``),
encoded with the VAE, noised to ``interpreter.timestep`` and read in one U-Net pass, with a fresh noise every
epoch; the interpreter is updated with Eq. 8. The checkpoint ``.safetensors`` files are interpreters that
``mattekit synthesize --interpreter`` reads. Optimiser: AdamW (``optim.optimizer``), as Mask2Former trains its
decoder. There is no validation (``val.dataset`` stays unset).

Example:
    >>> from mattekit.training.config import load_config
    >>> InterpreterTask(load_config("configs/interpreter.yaml", ["interpreter.diffusion=/models/sd15",
    ...                                                          "data.train=him2k:/data/HIM2K"])).timestep
    100
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch

from mattekit.errors import InputError, UsageError


class CaptionedInstances(torch.utils.data.Dataset):
    """Images, instance alphas and captions of a HIM2K-layout dataset, resized to ``size`` squared. Item ``i`` of
    epoch ``e`` draws from the generator seeded (seed, e, i): a flip left-right in half of the draws when ``flip``,
    and the seed of its diffusion noise, so any process, worker or resumed run gives it the same."""

    def __init__(self, spec: str, split: str | None, captions: str | None, size: int, flip: bool, seed: int):
        from mattekit.data.datasets import open_dataset
        self.dataset = open_dataset(spec, split)
        path = Path(captions) if captions else self.dataset.root / "captions.json"
        if not path.is_file():
            raise InputError(f"the captions file {path} does not exist; set interpreter.captions.")
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
        """``{"image": uint8 (size, size, 3), "alphas": float32 (M, size, size), "caption": str,
        "noise_seed": int}``."""
        name = self.names[index]
        sample = self.dataset.load_instances(name)
        shape = (self.size, self.size)
        image = cv2.resize(sample.image, shape, interpolation=cv2.INTER_AREA)
        alphas = np.stack([cv2.resize(a, shape, interpolation=cv2.INTER_AREA) for a in sample.alphas])
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if rng.random() < 0.5 and self.flip:
            image, alphas = image[:, ::-1].copy(), alphas[:, :, ::-1].copy()
        return {"image": image, "alphas": alphas, "caption": self.captions[name],
                "noise_seed": int(rng.integers(2**62))}


def as_list(items: list) -> list:
    """Collation that keeps the items (their instance counts differ)."""
    return items


class InterpreterTask:
    """The interpreter as a task of ``mattekit.training.trainer``: ``build``, ``dataset``, ``collate``,
    ``to_batch`` (features of the frozen diffusion model, computed on ``device``), ``loss``,
    ``check_validation`` (there is none), ``write_weights``/``read_weights``. The diffusion model is loaded on
    first use."""

    name = "interpreter"
    collate = staticmethod(as_list)

    def __init__(self, config: dict):
        self.config, self.options = config, config["interpreter"]
        for key, value in (("interpreter.diffusion", self.options["diffusion"]),
                           ("data.train", config["data"]["train"])):
            if not value:
                raise UsageError(f"the interpreter task needs {key} (set it in the file or as {key}=...).")
        self.timestep = int(self.options["timestep"])
        self._sd = None

    def diffusion_model(self, device: torch.device | None = None):
        from mattekit.engines.gfm import pick_device
        from mattekit.synthesis import diffusion
        if self._sd is None:
            self._sd = diffusion.load_model(self.options["diffusion"], device or pick_device(self.config["device"]))
            size = self.config["data"]["output"]
            diffusion.check_size(self._sd, size, size)
        return self._sd

    def build(self, fresh: bool):
        from mattekit.models.interpreter import Interpreter
        options = {k: self.options[k] for k in ("queries", "width", "layers", "heads")}
        return Interpreter(self.diffusion_model().channels(), **options)

    def dataset(self) -> CaptionedInstances:
        data = self.config["data"]
        return CaptionedInstances(data["train"], data["split"], self.options["captions"], data["output"],
                                  data["augment"], self.config["seed"])

    def to_batch(self, collated: list[dict], device: torch.device) -> dict:
        """Feature levels (batched) and instance alphas (a list) of the items, each item with its own noise."""
        from mattekit.synthesis import diffusion
        sd = self.diffusion_model(device)
        levels = [diffusion.features(sd, diffusion.encode(sd, item["image"]), item["caption"], self.timestep,
                                     torch.Generator().manual_seed(item["noise_seed"])) for item in collated]
        return {"levels": [torch.cat(scale) for scale in zip(*levels)],
                "targets": [torch.from_numpy(item["alphas"]).to(device) for item in collated]}

    def loss(self, net, batch: dict, cast) -> tuple[torch.Tensor, dict]:
        from mattekit.models.interpreter import interpreter_loss
        with cast:
            out = net(batch["levels"])
        out = {"logits": out["logits"].float(), "alphas": out["alphas"].float(),
               "aux": [{k: v.float() for k, v in layer.items()} for layer in out["aux"]]}
        return interpreter_loss(out, batch["targets"], self.options["class_weight"], self.options["alpha_weight"])

    def check_validation(self) -> None:
        if self.config["val"]["dataset"]:
            raise UsageError("the interpreter task has no validation; leave val.dataset unset.")

    def write_weights(self, model, path) -> None:
        from mattekit.synthesis.interpret import write_interpreter
        write_interpreter(model, path, self.timestep)

    def read_weights(self, model, path) -> None:
        from mattekit.engines.gfm_weights import read_weights
        model.load_state_dict(read_weights(path)[0])
