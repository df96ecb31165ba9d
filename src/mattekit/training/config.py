"""Training configuration: a YAML file over the defaults, then ``key.sub=value`` overrides from the command line.

``task`` chooses what is trained (``training.tasks``): ``gfm`` (the default), DFIMat's ``iscn`` and ``mrn``
stages, whose own settings are in ``dfimat`` (``model.imagenet``/``imagenet_weights`` apply to ISCN's backbone;
``model.backbone``, ``rosta``, ``options`` and ``loss`` are GFM's), or DFIMat's diffusion-feature ``interpreter``,
whose own settings are in ``interpreter``. The defaults below are GFM's paper settings; DFIMat's (Adam 5e-4,
cosine, 150/75 epochs) are in ``configs/dfimat_*.yaml``, the interpreter's (AdamW 1e-4, 100 epochs) in
``configs/interpreter.yaml``.

Defaults are GFM's (Li et al., "Bridging Composite and Real", IJCV 2022, arXiv:2010.16188, §5.2): Adam with a
fixed learning rate of 1e-5, batch 32 for ResNet-34, 8 for ResNet-101 and 4 for DenseNet-121
(``optim.batch_size: null`` picks it), 500 epochs (ORI-Track; the COMP-Track used 100), 320×320 crops.
``optim.batch_size`` is the global batch: with N processes each takes 1/N of it.

Example:
    >>> cfg = load_config(None, ["model.backbone=d121", "data.train=folder:/data/x"])
    >>> cfg["optim"]["batch_size"], cfg["optim"]["lr"]
    (4, 1e-05)
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

from mattekit.errors import InputError, UsageError

PAPER_BATCH = {"r34": 32, "r34_2b": 32, "r101": 8, "d121": 4, "efficientnet_lite0": 32}

DEFAULTS: dict = {
    "task": "gfm",               # gfm, iscn or mrn (DFIMat's two stages), interpreter; see training.tasks
    "run_dir": "runs/gfm",
    "seed": 0,
    "device": "auto",
    "deterministic": True,
    "progress": True,
    "model": {"backbone": "r34", "rosta": "tt", "imagenet": True, "imagenet_weights": None, "options": {}},
    "data": {
        "track": "ori",          # ori: real images from a dataset reader; comp: composites made online;
                                 # synth: multi-person scenes, instances: him2k:PATH (DFIMat tasks)
        "train": None,           # ori: KIND:PATH of any reader (e.g. am2k:/data/AM-2k, folder:/data/x);
                                 # instances (and the interpreter task): a reader with per-instance alphas
                                 # (him2k:/data/HIM2K)
        "split": None,           # ori: the reader's split (default: its training split where it has one)
        "fg": None, "bg": None,  # comp, synth: foreground folder (image/, alpha/) and background folder
        "mode": "rssn",          # comp: coco, bg20k or rssn
        "per_foreground": 5,     # comp: backgrounds per foreground (the paper's K)
        "foreground_method": "cf",  # comp: foreground colours when fg/ is absent (cf: Levin et al., the paper)
        "output": 320,           # training size
        "augment": True,         # False: the centred square of each image, no crop, flip or randomness
        "colours": "ml",         # ori: F and B for the composition loss, estimated per crop (ml or cf)
        "repeat": 1,             # ori: each image this many times per epoch
        "workers": 2,
    },
    "val": {"dataset": None, "split": None, "every": 10, "strategy": None, "protocol": "gfm", "metric": "sad",
            "limit": None, "max_size": 1600},
    "optim": {"lr": 1e-5, "batch_size": None, "epochs": 500, "max_steps": None, "amp": True, "freeze_bn": False,
              "sync_bn": True, "schedule": "constant",  # schedule: constant or cosine (DFIMat)
              "optimizer": "adam", "weight_decay": 0.0},  # adam (L2 decay) or adamw (decoupled decay)
    "dfimat": {                  # the iscn and mrn tasks (training.task_dfimat)
        "preset": "dfimat",      # dfimat, dfimat-s or tiny (models.dfimat.settings)
        "settings": {},          # ISCN or MRN settings changed from the preset
        "interaction": "mixed",  # simulated user: click, scribble, box, text or mixed
        "rounds": 5,             # rounds per sample: up to rounds-1 without gradients before the trained one
        "box_jitter": 0,         # box user: each side pushed out by 0..this many pixels (eval's --box-jitter)
        "first_clicks": 3,       # training: round 1 keeps this..3 of the user's clicks (3: the paper's, eval's round)
        "points": None,          # iscn: Eq. 6 mask terms on this many points per mask (None: every 1/4 pixel)
        "deep_supervision": True,  # iscn: Eq. 6 on every decoder layer's prediction too
        "scenes": 1000,          # synthesised scenes per epoch
        "people": None,          # people per scene (None: 2-4 drawn)
        "coarse": "iscn",        # mrn: coarse masks from the frozen ISCN, or perturbed ground truth
        "iscn_weights": None,    # mrn: the trained ISCN stage's weight file
    },
    "interpreter": {             # the interpreter task (training.interpreter)
        "diffusion": None,       # the frozen Stable Diffusion folder (diffusers layout)
        "timestep": 100,         # the noise level its features are read at
        "captions": None,        # {"<subset>/<stem>": sentence}; default ROOT/captions.json of data.train
        "queries": 20, "width": 256, "layers": 6, "heads": 8,  # models.interpreter.Interpreter
        "class_weight": 0.1, "alpha_weight": 1.0,  # Eq. 8's weights of the class BCE and the alpha L1
    },
    "loss": {"official": False},
    "checkpoint_every": 0,       # steps between checkpoints (0: at the end of every epoch)
    "keep": 2,                   # checkpoints kept besides the best one
    "log_every": 1,
    "tensorboard": None,         # TensorBoard events besides the CSV logs: null = when the train extra is
                                 # installed, true = required (stops before training without it), false = never
}


# settings that must be numbers: whole numbers at least this, or (a float bound) numbers above it; the other
# settings are checked where they are used
MINIMA = {"seed": 0, "checkpoint_every": 0, "keep": 0, "log_every": 1,
          "data.output": 32, "data.repeat": 1, "data.workers": 0, "data.per_foreground": 1,
          "val.every": 1, "val.limit": 1, "val.max_size": 32, "dfimat.rounds": 1, "dfimat.first_clicks": 1,
          "dfimat.scenes": 1, "dfimat.points": 1, "dfimat.people": 1, "interpreter.timestep": 0,
          "interpreter.queries": 1, "interpreter.width": 1, "interpreter.layers": 1, "interpreter.heads": 1,
          "optim.lr": 0.0, "optim.batch_size": 1, "optim.epochs": 1, "optim.max_steps": 1}
FLAGS = ("deterministic", "progress", "model.imagenet", "data.augment", "optim.amp", "optim.freeze_bn",
         "optim.sync_bn", "loss.official", "dfimat.deep_supervision")
SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "adamw")


class SettingsLoader(yaml.SafeLoader):
    """YAML's safe loader that also reads exponent numbers without a dot (``1e-4``) as floats, as YAML 1.2 does;
    PyYAML (YAML 1.1) would read them as strings."""


SettingsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def read_yaml(text: str):
    return yaml.load(text, Loader=SettingsLoader)


def merge(base: dict, extra: dict, where: str = "") -> dict:
    """``base`` updated by ``extra`` recursively; an unknown key is a UsageError naming it."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if key not in base:
            raise UsageError(f"unknown training setting '{where}{key}'; known: {', '.join(sorted(base))}.")
        if isinstance(base[key], dict) and key not in ("options", "settings"):
            if not isinstance(value, dict):
                raise UsageError(f"training setting {where}{key} must be a mapping, not {value!r}.")
            out[key] = merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict:
    """``"optim.lr=1e-4"`` -> ``{"optim": {"lr": 0.0001}}`` (the value is read as YAML)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"an override is KEY=VALUE (for example optim.lr=1e-4), not {text!r}.")
    out: dict = read_yaml(value) if value.strip() else None
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


def read_settings(path: str | Path) -> dict:
    """The mapping of settings in the YAML file at ``path``; InputError when it is missing or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"training configuration {path} does not exist.")
    try:
        loaded = read_yaml(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{path} is not valid YAML ({str(e).splitlines()[0]}).") from None
    if not isinstance(loaded, dict):
        raise InputError(f"{path} must hold a mapping of settings.")
    return loaded


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict:
    """The defaults, updated by the YAML file at ``path`` (if any), then by each override in turn."""
    config = DEFAULTS
    if path is not None:
        config = merge(config, read_settings(path))
    for text in overrides:
        config = merge(config, parse_override(text))
    if config["optim"]["batch_size"] is None:
        config["optim"]["batch_size"] = PAPER_BATCH.get(config["model"]["backbone"], 8)
    check_values(config)
    return config


def setting(config: dict, key: str):
    """``config``'s value at the dotted ``key`` (``"optim.lr"``)."""
    for part in key.split("."):
        config = config[part]
    return config


def check_values(config: dict) -> None:
    """A UsageError naming the first numeric setting out of its range (``MINIMA``) or flag that is not true or
    false; None is allowed where it is the default."""
    for key, least in MINIMA.items():
        value, default = setting(config, key), setting(DEFAULTS, key)
        if value is None and default is None:
            continue
        whole = isinstance(least, int)
        number = not isinstance(value, bool) and isinstance(value, int if whole else (int, float))
        if not number or (value < least if whole else value <= least):
            kind = f"a whole number of at least {least}" if whole else f"a number above {least:g}"
            raise UsageError(f"training setting {key} must be {kind}, not {value!r}.")
    if config["tensorboard"] is not None and not isinstance(config["tensorboard"], bool):
        raise UsageError(f"training setting tensorboard must be true, false or null, not {config['tensorboard']!r}.")
    for key in FLAGS:
        if not isinstance(setting(config, key), bool):
            raise UsageError(f"training setting {key} must be true or false, not {setting(config, key)!r}.")
    if config["optim"]["schedule"] not in SCHEDULES:
        raise UsageError(f"training setting optim.schedule must be one of {', '.join(SCHEDULES)}, not "
                         f"{config['optim']['schedule']!r}.")
    if config["optim"]["optimizer"] not in OPTIMIZERS:
        raise UsageError(f"training setting optim.optimizer must be one of {', '.join(OPTIMIZERS)}, not "
                         f"{config['optim']['optimizer']!r}.")
    decay = config["optim"]["weight_decay"]
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or decay < 0:
        raise UsageError(f"training setting optim.weight_decay must be a number of at least 0, not {decay!r}.")
    if not isinstance(config["dfimat"]["settings"], dict):
        raise UsageError(f"training setting dfimat.settings must be a mapping, not {config['dfimat']['settings']!r}.")
    if config["data"]["output"] % 32:
        raise UsageError(f"training setting data.output must be a multiple of 32 (GFM's input sizes), "
                         f"not {config['data']['output']}.")


# settings naming a file or folder that must exist when set
PATHS = ("data.fg", "data.bg", "model.imagenet_weights", "dfimat.iscn_weights", "interpreter.diffusion",
         "interpreter.captions")


def check_sources(config: dict) -> None:
    """An InputError naming the first data set, file or folder of ``config`` that cannot be opened; without
    importing PyTorch, so ``mattekit train`` refuses a wrong path before loading anything heavy."""
    from mattekit.data.datasets import open_dataset

    for spec, split in ((config["data"]["train"], config["data"]["split"]),
                        (config["val"]["dataset"], config["val"]["split"])):
        if isinstance(spec, str) and ":" in spec:  # KIND:PATH (DFIMat validates on "synth", made from data.fg)
            open_dataset(spec, split)
    for key in PATHS:
        value = setting(config, key)
        if value is not None and not Path(str(value)).exists():
            raise InputError(f"training setting {key} names {value}, which does not exist.")
