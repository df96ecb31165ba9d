"""Does DFIMat learn on a CPU? ISCN on three synthesised scenes, and MRN on one real alphamatting image.

ISCN: the tiny ISCN (EfficientNet-Lite0 with its ImageNet weights, batch norm in inference mode so that the model
scored afterwards is the one that trained) is trained through ``mattekit train`` (task iscn, click interaction,
simulated rounds, Adam 5e-4) on the same three synthesised multi-person scenes every epoch; before
and after, the IoU of the meant person's mask is measured on those scenes for one click at the person's innermost
pixel (RITM's first click, ``interactive.simulate.ritm_click``), and for the first round of the simulated user
(3 clicks of ``interactive.simulate.SimulatedUser("click", seed=sample["seed"])``, the user training plays).

MRN: the tiny MRN is trained on one alphamatting image (GT04 by default) whose coarse input is its ground-truth
alpha blurred with a Gaussian (sigma = 4 % of the shorter side); the SAD (/1000) of that blurred mask against the
ground truth is compared with MRN's output.

Run: PYTHONPATH=src python bench/dfimat_learning.py [--steps-iscn N] [--steps-mrn N] [--size S] [--seed K]
[--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mattekit.engines.dfimat_weights import read_dfimat
from mattekit.evaluation.interactive import iou
from mattekit.interactive.simulate import ritm_click
from mattekit.models.dfimat import make_target
from mattekit.training.config import load_config
from mattekit.training.overfit import overfit_mrn
from mattekit.training.task_dfimat import predict, scenes, start
from mattekit.training.trainer import train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def iscn_config(run_dir: Path, steps: int, size: int, seed: int = 0, changes: list[str] = ()) -> dict:
    return load_config(None, [
        "task=iscn", f"run_dir={run_dir}", "progress=false", f"seed={seed}", "dfimat.preset=tiny",
        "dfimat.interaction=click", "dfimat.rounds=2", "dfimat.scenes=3", "data.track=synth", "data.augment=false",
        f"data.fg={DATA / 'portraits-pseudo'}", f"data.bg={DATA / 'backgrounds'}", f"data.output={size}",
        "data.workers=0", "optim.batch_size=3", "optim.lr=5e-4", f"optim.epochs={steps}", "optim.amp=false",
        "optim.freeze_bn=true",
        "checkpoint_every=0", "keep=1", "model.imagenet=true", *changes])


def click_ious(model, config: dict) -> tuple[float, float]:
    """Mean IoU over the scenes' targets: one click at the innermost pixel; the simulated user's first round."""
    data = scenes(config)
    one, first = [], []
    model.eval()
    for index in range(len(data)):
        sample = data[index]
        gt = sample["alphas"][sample["target"]]
        image = torch.from_numpy(sample["image"]).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            features = model.encode(image)
            for prompts, out in (([ritm_click(gt, np.zeros_like(gt))], one), (start(sample, "click").prompts, first)):
                alpha = predict(model, features, [make_target(prompts, gt.shape)])[0]
                out.append(iou(alpha, gt))
    return float(np.mean(one)), float(np.mean(first))


def learn_iscn(steps: int, size: int, seed: int = 0, changes: list[str] = ()) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = iscn_config(Path(tmp) / "run", steps, size, seed, changes)
        from mattekit.training.tasks import build_task
        torch.manual_seed(config["seed"])
        before = click_ious(build_task(config).build(fresh=True), config)
        tick, cpu = time.perf_counter(), time.process_time()
        history = train(config)
        seconds, cpu_seconds = time.perf_counter() - tick, time.process_time() - cpu
        last = sorted((Path(tmp) / "run" / "checkpoints").glob("step-*.safetensors"))[-1]
        after = click_ious(read_dfimat([last])[0], config)
    return {"steps": len(history), "size": size, "seed": seed, "settings": list(changes),
            "one_click_iou_before": before[0], "one_click_iou_after": after[0],
            "first_round_iou_before": before[1], "first_round_iou_after": after[1],
            "loss_first": history[0][1], "loss_last": history[-1][1], "seconds": seconds, "cpu_seconds": cpu_seconds}


def learn_mrn(steps: int, size: int, name: str = "GT04") -> dict:
    set_ = DATA / "alphamatting"
    cpu = time.process_time()
    result = overfit_mrn(set_ / "image" / f"{name}.png", set_ / "alpha" / f"{name}.png", size=size, steps=steps)
    return {"image": name, "size": size, "steps": steps, "sad_blurred": result.sad_before,
            "sad_mrn": result.sad_after, "reduction": result.reduction, "seconds": result.seconds,
            "cpu_seconds": time.process_time() - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-iscn", type=int, default=150)
    parser.add_argument("--steps-mrn", type=int, default=150)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0, help="the ISCN run's seed (its scenes, user and weights)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a training setting for the ISCN run (dfimat.first_clicks=3), repeatable")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.steps_mrn:
        print(json.dumps({"mrn": learn_mrn(args.steps_mrn, args.size)}, indent=1))
    if args.steps_iscn:
        print(json.dumps({"iscn": learn_iscn(args.steps_iscn, args.size, args.seed, args.set)}, indent=1))


if __name__ == "__main__":
    main()
