"""The GFM training task: its model, data, loss, validation and weight files, for ``mattekit.training.trainer``.

Example:
    >>> from mattekit.training.config import load_config
    >>> GFMTask(load_config(None, ["model.backbone=r34"])).name
    'gfm'
"""

from __future__ import annotations

import numpy as np
import torch

from mattekit.engines.gfm import STRATEGIES, GFMEngine
from mattekit.engines.gfm_weights import complete_aliases, read_weights, write_weights
from mattekit.errors import UsageError
from mattekit.models.gfm import GFM
from mattekit.training.data import to_batch, training_set
from mattekit.training.losses import gfm_loss


def rostas_of(rosta: str) -> tuple[str, ...]:
    return ("tt", "ft", "bt") if rosta == "rim" else (rosta,)


class GFMTask:
    """GFM (Li et al., "Bridging Composite and Real", IJCV 2022, arXiv:2010.16188): raw 0-255 images in, the
    RoSTa losses of ``training.losses``, benchmark metrics to validate."""

    name = "gfm"
    collate = None  # torch's default collation

    def __init__(self, config: dict):
        self.config = config
        self.spec = config["model"]

    def build(self, fresh: bool) -> GFM:
        spec = self.spec
        model = GFM(spec["backbone"], spec["rosta"], **spec["options"])
        if spec["imagenet"] and fresh:
            model.load_imagenet(spec["imagenet_weights"])
        return model

    def dataset(self):
        return training_set(self.config, rostas_of(self.spec["rosta"]))

    def to_batch(self, collated, device: torch.device):
        return to_batch(collated, device)

    def loss(self, net, batch: dict, cast) -> tuple[torch.Tensor, dict]:
        with cast:
            out = net(batch["image"] * 255)
        out = {k: v.float() for k, v in out.items()}
        return gfm_loss(out, batch, self.spec["rosta"], self.config["loss"]["official"])

    def check_validation(self) -> None:
        """Fail before training, not at the first validation: dataset, strategy, protocol and metric exist."""
        from mattekit.data.datasets import open_dataset
        from mattekit.evaluation.metrics import DIM_KEYS, GFM_KEYS, GFM_TRIMAP_KEYS, PROTOCOLS
        val = self.config["val"]
        if not val["dataset"]:
            return
        if val["strategy"] not in (None,) + STRATEGIES:
            raise UsageError(f"val.strategy must be one of {', '.join(STRATEGIES)}, not {val['strategy']!r}.")
        if val["protocol"] not in PROTOCOLS:
            raise UsageError(f"val.protocol must be one of {', '.join(PROTOCOLS)}, not {val['protocol']!r}.")
        metrics = DIM_KEYS if val["protocol"] == "dim" else GFM_KEYS + GFM_TRIMAP_KEYS
        if val["metric"] not in metrics:
            raise UsageError(f"val.metric must be one of {', '.join(metrics)} under the {val['protocol']} "
                             f"protocol, not {val['metric']!r}.")
        dataset = open_dataset(val["dataset"], val["split"])
        if val["metric"] in GFM_TRIMAP_KEYS and not dataset.has_trimaps:
            raise UsageError(f"val.metric {val['metric']} is measured in trimap regions, and {val['dataset']} has "
                             "images without a trimap.")

    def validate(self, model: GFM, device: torch.device) -> dict[str, float]:
        """Mean benchmark metrics (``mattekit.evaluation.metrics.evaluate``) of ``model`` on ``val.dataset``."""
        from mattekit.data.datasets import open_dataset
        from mattekit.evaluation.metrics import evaluate
        val = self.config["val"]
        dataset = open_dataset(val["dataset"], val["split"])
        names = dataset.names[: val["limit"]] if val["limit"] else dataset.names
        engine = GFMEngine.from_models([model], strategy=val["strategy"], max_size=val["max_size"], device=device,
                                       foreground=False, optimise=False)
        scores = []
        model.eval()
        for name in names:
            sample = dataset.load(name)
            alpha = engine.predict(sample.image).alpha
            scores.append(evaluate(alpha, sample.alpha, sample.trimap, protocol=val["protocol"]))
        return {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}

    def write_weights(self, model: GFM, path) -> None:
        write_weights(model, path)

    def read_weights(self, model: GFM, path) -> None:
        weights, _ = read_weights(path)
        model.load_state_dict(complete_aliases(model, weights), strict=True)
