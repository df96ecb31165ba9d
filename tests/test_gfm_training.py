"""GFM training: configuration, exact resume, two-process DDP = one process, checkpoints usable by the engine."""

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mattekit import weights
from mattekit.engines.gfm import GFMEngine
from mattekit.errors import InputError, UsageError, WeightsError
from mattekit.training.config import load_config, read_settings
from mattekit.training.overfit import overfit_one_image
from mattekit.training.trainer import train


def config_for(data: Path, run_dir: Path, *extra: str) -> dict:
    return load_config(None, [
        f"run_dir={run_dir}", "progress=false", "model.backbone=efficientnet_lite0", "model.imagenet=false",
        f"data.train=folder:{data}", "data.output=32", "data.workers=0", "optim.lr=0.001", "optim.batch_size=2",
        "optim.epochs=10", *extra])


def losses(run_dir: Path) -> dict[int, float]:
    with open(run_dir / "log.csv") as f:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(f)}


def test_config_defaults_overrides_and_errors(tmp_path):
    cfg = load_config(None, ["model.backbone=r101"])
    assert cfg["optim"]["batch_size"] == 8 and cfg["optim"]["lr"] == 1e-5 and cfg["data"]["output"] == 320
    with pytest.raises(UsageError, match="unknown training setting 'optim.learning_rate'"):
        load_config(None, ["optim.learning_rate=1"])
    with pytest.raises(UsageError, match="an override is KEY=VALUE"):
        load_config(None, ["optim.lr"])
    path = tmp_path / "c.yaml"
    path.write_text("model: {rosta: ft}\noptim: {epochs: 7, lr: 2e-4}\n")
    cfg = load_config(path, ["optim.epochs=9"])
    assert (cfg["model"]["rosta"], cfg["optim"]["epochs"], cfg["optim"]["lr"]) == ("ft", 9, 2e-4)
    # exponents without a dot are numbers (PyYAML alone reads "1e-4" as a string)
    assert load_config(None, ["optim.lr=1e-4"])["optim"]["lr"] == 1e-4
    with pytest.raises(UsageError, match="training setting optim.lr must be a number above 0, not 'abc'"):
        load_config(None, ["optim.lr=abc"])
    with pytest.raises(UsageError, match="training setting optim.epochs must be a whole number of at least 1, not 2.5"):
        load_config(None, ["optim.epochs=2.5"])
    with pytest.raises(UsageError, match="training setting data.augment must be true or false, not 'maybe'"):
        load_config(None, ["data.augment=maybe"])
    with pytest.raises(UsageError, match="data.output must be a multiple of 32 \\(GFM's input sizes\\), not 100"):
        load_config(None, ["data.output=100"])
    shipped = [c for c in sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
               if "task" not in read_settings(c)]  # other tasks' files (interpreter.yaml) name their task
    assert len(shipped) == 4 and all(load_config(c)["optim"]["epochs"] >= 30 for c in shipped)  # all valid


def test_validation_settings_fail_before_training(tmp_path):
    data = tmp_path / "data"  # one image and its alpha, no trimap
    for kind, shape in (("image", (32, 32, 3)), ("alpha", (32, 32))):
        (data / kind).mkdir(parents=True)
        Image.fromarray(np.zeros(shape, np.uint8)).save(data / kind / "a.png")
    with pytest.raises(InputError, match="does not exist"):
        train(config_for(data, tmp_path / "run", f"val.dataset=folder:{tmp_path / 'nope'}"))
    with pytest.raises(UsageError, match="val.metric must be one of sad, mse, grad, conn under the dim protocol"):
        train(config_for(data, tmp_path / "run", f"val.dataset=folder:{data}", "val.protocol=dim",
                         "val.metric=mad"))
    with pytest.raises(UsageError, match="val.metric sad_tran is measured in trimap regions, and folder:"):
        train(config_for(data, tmp_path / "run", f"val.dataset=folder:{data}", "val.metric=sad_tran"))
    with pytest.raises(UsageError, match="val.strategy must be one of resize, hybrid, rim, not 'tiles'"):
        train(config_for(data, tmp_path / "run", f"val.dataset=folder:{data}", "val.strategy=tiles"))
    assert not (tmp_path / "run").exists()


def test_stop_and_resume_gives_the_same_next_loss_and_validation_keeps_the_best(shared_data, tmp_path):
    data = shared_data / "dim-composites"
    # batch 5 of 10 images: 2 steps an epoch, validated after each epoch on one image
    settings = ["optim.batch_size=5", f"val.dataset=folder:{data}", "val.every=1", "val.limit=1",
                "val.strategy=resize", "val.max_size=64"]
    straight = train(config_for(data, tmp_path / "a", "optim.max_steps=2", *settings))
    train(config_for(data, tmp_path / "b", "optim.max_steps=1", *settings))
    with pytest.raises(UsageError, match="already holds checkpoints; pass --resume"):
        train(config_for(data, tmp_path / "b", "optim.max_steps=2", *settings))
    resumed = train(config_for(data, tmp_path / "b", "optim.max_steps=2", *settings), resume=True)
    assert [s for s, _ in resumed] == [2]  # resumed inside the first epoch
    assert resumed[0][1] == pytest.approx(straight[1][1], rel=1e-5)
    assert sorted(losses(tmp_path / "b")) == [1, 2]
    rows = list(csv.DictReader(open(tmp_path / "b" / "val.csv")))
    assert [int(r["epoch"]) for r in rows] == [1] and {"sad", "mse", "grad", "conn"} <= rows[0].keys()
    assert yaml.safe_load((tmp_path / "b" / "checkpoints" / "best.json").read_text())["step"] == 2
    # TensorBoard holds the same curves as the CSV files, across the resume
    board = EventAccumulator(str(tmp_path / "b" / "tensorboard"))
    board.Reload()
    assert {e.step: e.value for e in board.Scalars("log/loss")} == pytest.approx(losses(tmp_path / "b"))
    assert [e.step for e in board.Scalars("val/sad")] == [2]
    # checkpoints are ordinary GFM weight files for the engine
    engine = GFMEngine(tmp_path / "b" / "checkpoints" / "best.safetensors", strategy="resize", foreground=False)
    assert engine.models[0].backbone == "efficientnet_lite0"
    with pytest.raises(UsageError, match="holds no checkpoint to resume from"):
        train(config_for(data, tmp_path / "c"), resume=True)


def test_two_process_ddp_matches_one_process_with_the_same_global_batch(shared_data, tmp_path, train_with_torchrun):
    data = shared_data / "dim-composites"
    settings = ["optim.max_steps=2", "optim.freeze_bn=true"]
    single = train(config_for(data, tmp_path / "one", *settings))
    train_with_torchrun(config_for(data, tmp_path / "two", *settings), timeout=300)
    ddp = losses(tmp_path / "two")
    for step, loss in single:
        assert ddp[step] == pytest.approx(loss, rel=1e-4)


def test_overfitting_one_real_image_cuts_its_sad_by_90_percent(shared_data):
    # a real photo with a hand-made alpha; the network, targets, losses and training loop together must learn it
    try:
        weights.resolve("efficientnet-lite0-imagenet")
    except WeightsError as e:
        pytest.skip(f"EfficientNet-Lite0 weights unavailable: {e}")
    set_ = shared_data / "alphamatting"
    result = overfit_one_image(set_ / "image" / "GT25.png", set_ / "alpha" / "GT25.png", steps=40)
    assert len(result.losses) == 40 and result.losses[-1][1] < result.losses[0][1] / 3
    assert result.reduction > 0.9, (result.sad_before, result.sad_after)
