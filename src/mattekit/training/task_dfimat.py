"""DFIMat's two training stages as tasks of ``mattekit.training.trainer`` (Jiao et al., ACCV 2024, arXiv 2410.09788,
§5.1): ``iscn`` first, then ``mrn`` with the trained ISCN frozen.

Data (``data.track: synth``): multi-person scenes synthesised online from the portraits in ``data.fg`` (a folder
with ``image/`` and ``alpha/``) over the backgrounds in ``data.bg`` (``training.dfimat_data``), ``dfimat.scenes``
per epoch, ``data.output`` pixels square; ``data.augment: false`` keeps the same scenes every epoch. Or
(``data.track: instances``) real images with per-instance alphas, ``data.train=him2k:PATH`` (``data.split``);
validation still uses synthesised scenes (``data.fg``, ``data.bg``).

ISCN: each sample plays the simulated user of the interactive core, the one ``mattekit eval --interaction``
scores with (``interactive.simulate.SimulatedUser(dfimat.interaction, seed=sample["seed"],
box_jitter=dfimat.box_jitter)``, the target person as its instance; click, scribble, box, text or mixed): round 1
from the ground truth, then a seeded random number (0 to ``dfimat.rounds`` − 1) of rounds without gradients, the
network in inference mode, each adding the user's corrections in the error areas of its prediction with the
conflict map and previous mask of the Session; the next round is trained with Eq. 6
(``training.dfimat_losses.iscn_loss``; ``dfimat.points``: point sampling, ``dfimat.deep_supervision``). The user's
seed is new every epoch (``dfimat_data.user_seed``), so a scene seen again is prompted anew. ``dfimat.first_clicks``
below 3 (training only) keeps that many to 3 of round 1's clicks (``fewer_clicks``); 3, the default, is §5.1's
round of 3 clicks.

MRN: the coarse mask of the target is ISCN's after the same simulated rounds (``dfimat.coarse: iscn``, ISCN from
``dfimat.iscn_weights``, frozen) or the ground truth perturbed as Mask Guided Matting does (``perturbed``); loss
Eq. 7 over the PRM path (``mrn_loss``).

Validation (``val.dataset: synth``): ``val.limit`` (default 8) scenes of another seed. ISCN plays ``dfimat.rounds``
rounds (one for box and text) and reports the IoU after each round (``iou_r1`` ...), their mean ``miou`` and
``iou_gap`` = 1 − the last round's IoU (``val.metric``, lower is better); MRN reports SAD and MSE of its alpha.

Example:
    >>> from mattekit.training.config import load_config
    >>> ISCNTask(load_config(None, ["task=iscn", "dfimat.preset=tiny"])).build(fresh=False).settings.hidden
    32
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from mattekit.engines.dfimat_weights import read_dfimat, write_dfimat
from mattekit.errors import UsageError
from mattekit.evaluation.interactive import iou
from mattekit.interactive.conflict import conflict_map
from mattekit.interactive.prompts import Click
from mattekit.interactive.simulate import KINDS, SimulatedUser
from mattekit.models.dfimat import ISCN, MRN, iscn_settings, make_target, mrn_settings
from mattekit.training.dfimat_data import (InstanceSet, SceneSet, collate, load_backgrounds, load_pool,
                                           perturb_mask)
from mattekit.training.dfimat_losses import iscn_loss, mrn_loss

VAL_SCENES = 8
VAL_SEED_OFFSET = 1_000_003
ISCN_METRICS = ("iou_gap",)
TRAINING_KINDS = tuple(k for k in KINDS if k != "ritm")  # DFIMat §5.2's input types
SCENE = "scene"  # the image name the simulated user's draws are keyed by (the sample seed tells scenes apart)
MRN_METRICS = ("sad", "mse")
CLICKS_STREAM = 1  # fewer_clicks' draws, apart from rounds_before's of the same seed


@dataclass
class Play:
    """One sample's simulated interaction: its user, target alpha and instance, all prompts so far, the round
    played last (0-based), the previous alpha and the conflict map."""

    user: SimulatedUser
    gt: np.ndarray
    instance: int
    prompts: list
    seed: int
    round: int = 0
    previous: np.ndarray | None = None
    conflict: np.ndarray | None = None

    def target(self, image: int):
        return make_target(self.prompts, self.gt.shape, 1.0, self.conflict, self.previous, image, self.seed)

    def advance(self, alpha: np.ndarray) -> None:
        """Add the user's next round for the prediction ``alpha`` (nothing if it is right)."""
        self.round += 1
        new = self.user.next_round(self.gt, alpha, self.round, SCENE, self.prompts, self.instance)
        if new:
            self.conflict = conflict_map(alpha, new, self.gt.shape)
            self.previous = alpha
            self.prompts = self.prompts + new


def start(sample: dict, kind: str, rounds: int | None = None, box_jitter: int = 0) -> Play:
    """Round 1 of ``SimulatedUser(kind, seed=sample["seed"])`` on the sample's target person.

    >>> alphas = np.zeros((2, 32, 32), np.float32); alphas[0, 4:28, 2:12] = 1; alphas[1, 4:28, 18:30] = 1
    >>> play = start({"alphas": alphas, "target": 1, "text": "the person on the right", "seed": 7}, "box")
    >>> play.prompts
    [Box(x0=18.0, y0=4.0, x1=29.0, y1=27.0)]
    """
    if kind in ("box", "text"):
        rounds = None
    user = SimulatedUser(kind, seed=sample["seed"], rounds=rounds, box_jitter=box_jitter)
    gt = sample["alphas"][sample["target"]]
    return Play(user, gt, sample["target"], user.first_round(gt, SCENE, sample["text"], sample["target"]),
                sample["seed"])


def fewer_clicks(play: Play, fewest: int) -> Play:
    """Training only: keep the first k of round 1's clicks, k drawn in ``fewest``..(their number) from the play's
    seed (the user drew them uniformly without replacement, so the kept ones are a uniform draw of k); other
    prompts stay. Round 1 is still the evaluation user's when ``fewest`` is at least the number of clicks.

    >>> alphas = np.zeros((1, 32, 32), np.float32); alphas[0, 4:28, 4:28] = 1
    >>> plays = [fewer_clicks(start({"alphas": alphas, "target": 0, "text": "", "seed": s}, "click"), 1)
    ...          for s in range(12)]
    >>> sorted({len(p.prompts) for p in plays})
    [1, 2, 3]
    """
    clicks = [p for p in play.prompts if isinstance(p, Click)]
    if fewest >= len(clicks):
        return play
    keep = int(np.random.default_rng([play.seed, CLICKS_STREAM]).integers(fewest, len(clicks) + 1))
    dropped = clicks[keep:]
    play.prompts = [p for p in play.prompts if not any(p is d for d in dropped)]
    return play


def rounds_before(play: Play, most: int) -> int:
    """How many no-gradient rounds a sample plays before its trained one: 0..most-1 drawn from its seed (0 for
    box and text, single rounds)."""
    return 0 if play.user.rounds == 1 else int(np.random.default_rng(play.seed).integers(most))


def predict(iscn: ISCN, features: dict, targets: list) -> list[np.ndarray]:
    """ISCN's alpha (sigmoid of the target's mask, at the image size) for each target."""
    out = iscn.decode(features, targets)
    masks = torch.sigmoid(F.interpolate(out["mask"][:, None].float(), size=features["size"], mode="bilinear",
                                        align_corners=False))[:, 0]
    return [m.cpu().numpy() for m in masks]


@torch.no_grad()
def play_rounds(iscn: ISCN, images: torch.Tensor, plays: list[Play], counts: list[int]) -> None:
    """Play ``counts[i]`` rounds of corrections for sample ``i`` with ``iscn`` in inference mode (no gradients)."""
    if max(counts, default=0) == 0:
        return
    modes = [(m, m.training) for m in iscn.modules()]  # restored exactly (frozen batch norm stays frozen)
    iscn.eval()
    features = iscn.encode(images)
    for r in range(max(counts)):
        active = [i for i in range(len(plays)) if counts[i] > r]
        for i, alpha in zip(active, predict(iscn, features, [plays[i].target(i) for i in active])):
            plays[i].advance(alpha)
    for module, training in modes:
        module.training = training


def scenes(config: dict, validation: bool = False):
    """The training (or validation) items: synthesised scenes, or real instance images (data.track=instances)."""
    data, options = config["data"], config["dfimat"]
    if data["track"] == "instances" and not validation:
        if not data["train"]:
            raise UsageError("the instances track needs data.train=him2k:PATH (images with per-instance alphas).")
        return InstanceSet(data["train"], data["split"], data["output"], config["seed"], fixed=not data["augment"])
    if data["track"] not in ("synth", "instances"):
        raise UsageError(f"DFIMat trains on data.track=synth (multi-person scenes) or instances (him2k:PATH), not "
                         f"{data['track']!r}.")
    if not (data["fg"] and data["bg"]):
        raise UsageError("the synth track needs data.fg=FOLDER (portraits: image/, alpha/) and data.bg=FOLDER.")
    pool = load_pool(data["fg"], 2 * data["output"])
    backgrounds = load_backgrounds(data["bg"], data["output"])
    if validation:
        return SceneSet(pool, backgrounds, data["output"], config["val"]["limit"] or VAL_SCENES,
                        config["seed"] + VAL_SEED_OFFSET, options["people"], fixed=True)
    return SceneSet(pool, backgrounds, data["output"], options["scenes"], config["seed"], options["people"],
                    fixed=not data["augment"])


class DFIMatTask:
    """What the two stages share: scenes, batches, validation checks."""

    collate = staticmethod(collate)
    metrics: tuple = ()

    def __init__(self, config: dict):
        self.config, self.options = config, config["dfimat"]
        self.kind = self.options["interaction"]
        if self.kind not in TRAINING_KINDS:
            raise UsageError(f"dfimat.interaction must be one of {', '.join(TRAINING_KINDS)}, not {self.kind!r}.")

    def dataset(self):
        return scenes(self.config)

    def to_batch(self, collated: list[dict], device: torch.device) -> dict:
        images = torch.from_numpy(np.stack([s["image"] for s in collated])).permute(0, 3, 1, 2).float()
        return {"images": images.to(device), "samples": collated}

    def check_validation(self) -> None:
        val = self.config["val"]
        if not val["dataset"]:
            return
        if val["dataset"] != "synth":
            raise UsageError(f"DFIMat validates on val.dataset=synth (scenes of another seed), not "
                             f"{val['dataset']!r}.")
        if val["metric"] not in self.metrics:
            raise UsageError(f"val.metric must be one of {', '.join(self.metrics)} for the {self.name} task, "
                             f"not {val['metric']!r}.")

    def plays(self, batch: dict) -> tuple[list[Play], list[int]]:
        """The training plays (round 1 with ``dfimat.first_clicks``..3 clicks) and their no-gradient rounds."""
        plays = [fewer_clicks(self.start(s), self.options["first_clicks"]) for s in batch["samples"]]
        return plays, [rounds_before(p, self.options["rounds"]) for p in plays]

    def start(self, sample: dict) -> Play:
        return start(sample, self.kind, self.options["rounds"], self.options["box_jitter"])


class ISCNTask(DFIMatTask):
    name = "iscn"
    metrics = ISCN_METRICS

    def __init__(self, config: dict):
        super().__init__(config)
        self.settings = iscn_settings(self.options["preset"], **self.options["settings"])  # checked before the data

    def build(self, fresh: bool) -> ISCN:
        model = ISCN(self.settings)
        if self.config["model"]["imagenet"] and fresh:
            model.load_imagenet(self.config["model"]["imagenet_weights"])
        return model

    def loss(self, net, batch: dict, cast) -> tuple[torch.Tensor, dict]:
        module = getattr(net, "module", net)
        images = batch["images"]
        plays, counts = self.plays(batch)
        play_rounds(module, images, plays, counts)
        with cast:
            out = net(images, [p.target(i) for i, p in enumerate(plays)])
        out = {**out, "masks": out["masks"].float(), "classes": out["classes"].float(),
               "aux": [(m.float(), c.float()) for m, c in out["aux"]]}
        size = out["masks"].shape[-2:]
        shrink = lambda a: F.interpolate(torch.from_numpy(a)[:, None].to(images.device), size=size,  # noqa: E731
                                         mode="area")[:, 0]
        people = [shrink(s["alphas"]) for s in batch["samples"]]
        target = torch.stack([p[s["target"]] for p, s in zip(people, batch["samples"])])
        return iscn_loss(out, target, people, self.options["points"], self.options["deep_supervision"])

    def validate(self, model: ISCN, device: torch.device) -> dict[str, float]:
        model.eval()
        data = scenes(self.config, validation=True)
        per_round = []
        for index in range(len(data)):
            sample = data[index]
            image = torch.from_numpy(sample["image"]).permute(2, 0, 1)[None].float().to(device)
            play = self.start(sample)
            with torch.no_grad():
                features = model.encode(image)
                ious = []
                for _ in range(play.user.rounds):
                    alpha = predict(model, features, [play.target(0)])[0]
                    ious.append(iou(alpha, play.gt))
                    play.advance(alpha)
            per_round.append(ious)
        curve = np.mean(per_round, axis=0)
        scores = {f"iou_r{r + 1}": float(v) for r, v in enumerate(curve)}
        return {**scores, "miou": float(curve.mean()), "iou_gap": float(1 - curve[-1])}

    def write_weights(self, model: ISCN, path) -> None:
        write_dfimat(path, iscn=model)

    def read_weights(self, model: ISCN, path) -> None:
        model.load_state_dict(read_dfimat([path])[0].state_dict())


class MRNTask(DFIMatTask):
    name = "mrn"
    metrics = MRN_METRICS

    def __init__(self, config: dict):
        super().__init__(config)
        self.settings = mrn_settings(self.options["preset"], **self.options["settings"])  # checked before the data
        coarse = self.options["coarse"]
        if coarse not in ("iscn", "perturbed"):
            raise UsageError(f"dfimat.coarse must be iscn or perturbed, not {coarse!r}.")
        self.iscn = None
        if coarse == "iscn":
            if not self.options["iscn_weights"]:
                raise UsageError("dfimat.coarse=iscn needs dfimat.iscn_weights=FILE (the trained ISCN stage).")
            self.iscn = read_dfimat([self.options["iscn_weights"]])[0]
            if self.iscn is None:
                raise UsageError(f"{self.options['iscn_weights']} holds no ISCN.")
            self.iscn.requires_grad_(False)

    def build(self, fresh: bool) -> MRN:
        return MRN(self.settings)

    def coarse(self, batch: dict) -> torch.Tensor:
        """The coarse masks (B, 1, H, W): ISCN's after the simulated rounds, or perturbed ground truths."""
        images = batch["images"]
        if self.iscn is None:
            masks = [perturb_mask(s["alphas"][s["target"]], np.random.default_rng(s["seed"]))
                     for s in batch["samples"]]
            return torch.from_numpy(np.stack(masks))[:, None].to(images.device)
        self.iscn.to(images.device)
        plays, counts = self.plays(batch)
        play_rounds(self.iscn, images, plays, counts)
        with torch.no_grad():
            alphas = predict(self.iscn.eval(), self.iscn.encode(images), [p.target(i) for i, p in enumerate(plays)])
        return torch.from_numpy(np.stack(alphas))[:, None].to(images.device)

    def loss(self, net, batch: dict, cast) -> tuple[torch.Tensor, dict]:
        coarse = self.coarse(batch)
        with cast:
            out = net(batch["images"], coarse)
        out = {k: v.float() if v.is_floating_point() else v for k, v in out.items()}
        alpha = torch.from_numpy(np.stack([s["alphas"][s["target"]] for s in batch["samples"]]))[:, None]
        return mrn_loss(out, alpha.to(coarse.device))

    def validate(self, model: MRN, device: torch.device) -> dict[str, float]:
        model.eval()
        data = scenes(self.config, validation=True)
        sad, mse = [], []
        for index in range(len(data)):
            batch = self.to_batch([data[index]], device)
            with torch.no_grad():
                alpha = model(batch["images"], self.coarse(batch))["alpha"][0, 0].cpu().numpy()
            truth = batch["samples"][0]["alphas"][batch["samples"][0]["target"]]
            sad.append(float(np.abs(alpha - truth).sum() / 1000))
            mse.append(float(((alpha - truth) ** 2).mean()))
        return {"sad": float(np.mean(sad)), "mse": float(np.mean(mse))}

    def write_weights(self, model: MRN, path) -> None:
        write_dfimat(path, mrn=model)

    def read_weights(self, model: MRN, path) -> None:
        model.load_state_dict(read_dfimat([path])[1].state_dict())
