"""Killed jobs lose nothing: `mattekit eval` and `mattekit compose` killed with SIGKILL mid-run resume to exactly
what an uninterrupted run writes."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mattekit import io

SRC = str(Path(__file__).resolve().parents[1] / "src")
TIME_COLUMNS = ("seconds", "metric_seconds")


ENV = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def mattekit(command: list[str]) -> None:
    """Run `mattekit COMMAND` to the end in a child process (as the killed runs, with the same threads)."""
    done = subprocess.run([sys.executable, "-m", "mattekit", *command], env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def kill_when(command: list[str], ready, timeout: float = 300) -> bool:
    """Run `mattekit COMMAND` in a child process and SIGKILL it as soon as ``ready()`` holds; False if it ended
    first (nothing was interrupted)."""
    with subprocess.Popen([sys.executable, "-m", "mattekit", *command], env=ENV, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as child:
        deadline = time.monotonic() + timeout
        while child.poll() is None and time.monotonic() < deadline:
            if ready():
                child.send_signal(signal.SIGKILL)
                child.wait()
                return True
            time.sleep(0.005)
        child.kill()
        return False


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True) if path.is_file() else []


def matting_set(root: Path, count: int) -> Path:
    """``count`` 160x200 images with soft ramps and noise, their alphas (a folder dataset)."""
    rng = np.random.default_rng(5)
    xx = np.arange(200)[None, :].repeat(160, axis=0)
    for i in range(count):
        alpha = np.clip((xx - 60 - 5 * i) / 40.0, 0, 1)
        image = alpha[..., None] * [230, 60, 20] + (1 - alpha[..., None]) * [20, 80, 200]
        image = np.clip(image + rng.normal(0, 4 + i, image.shape), 0, 255).astype(np.uint8)
        io.save_image(root / "image" / f"im{i:02d}.png", image)
        io.save_alpha(root / "alpha" / f"im{i:02d}.png", alpha)
        blurred = np.clip(alpha + rng.normal(0, 0.1, alpha.shape), 0, 1)
        io.save_alpha(root / "predictions" / f"im{i:02d}.png", blurred)
    return root


def scores(report: Path) -> list[dict]:
    with open(report / "per_image.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(f)]


def test_eval_killed_mid_image_resumes_to_the_uninterrupted_report(tmp_path):
    data = matting_set(tmp_path / "set", count=12)
    command = ["eval", "--dataset", f"folder:{data}", "--predictions", str(data / "predictions"), "--quiet",
               "--worst", "2"]
    mattekit([*command, "-o", str(tmp_path / "straight")])
    killed = tmp_path / "killed"
    assert kill_when([*command, "-o", str(killed)], lambda: len(lines(killed / "per_image.csv")) >= 4)
    written = lines(killed / "per_image.csv")
    assert 4 <= len(written) < 13 and all(line.endswith("\n") for line in written)  # no torn row
    mattekit([*command, "-o", str(killed)])
    assert scores(killed) == scores(tmp_path / "straight")
    summaries = [json.loads((folder / "summary.json").read_text()) for folder in (killed, tmp_path / "straight")]
    for summary in summaries:
        summary.pop("mean")["metric_seconds"]
    assert summaries[0] == summaries[1]
    assert not list(killed.rglob(".*"))  # no temporary file left behind


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_compose_killed_mid_set_resumes_to_the_uninterrupted_set(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:60, 0:72]
    for i in range(3):
        alpha = np.clip((xx - 20 - 4 * i) / 24.0, 0, 1)
        image = np.clip(np.stack([xx * 3, yy * 4, 90 + 0 * xx], -1) + rng.normal(0, 12, (60, 72, 3)), 0, 255)
        io.save_image(tmp_path / "fgs" / "image" / f"fg{i}.jpg", image.astype(np.uint8))
        io.save_alpha(tmp_path / "fgs" / "alpha" / f"fg{i}.png", alpha)
    for i in range(5):
        noise = rng.normal(0, 25, (64, 80, 3))
        io.save_image(tmp_path / "bgs" / f"bg{i}.png", np.clip(40 * i + noise, 0, 255).astype(np.uint8))
    command = ["compose", str(tmp_path / "fgs"), str(tmp_path / "bgs"), "--mode", "bg20k", "--per-foreground", "4",
               "--seed", "7", "--foreground", "ml", "--cache", str(tmp_path / "store"), "--quiet"]
    mattekit([*command, "-o", str(tmp_path / "straight")])
    killed = tmp_path / "killed"
    assert kill_when([*command, "-o", str(killed)], lambda: len(lines(killed / "manifest.jsonl")) >= 3)
    assert len(lines(killed / "manifest.jsonl")) < 12
    mattekit([*command, "-o", str(killed)])
    assert tree_bytes(killed) == tree_bytes(tmp_path / "straight")


def test_train_killed_mid_epoch_resumes_from_its_last_checkpoint_with_the_same_losses(shared_data, tmp_path):
    import yaml

    settings = {"progress": False, "seed": 3, "checkpoint_every": 1, "keep": 5,
                "model": {"backbone": "efficientnet_lite0", "imagenet": False},
                "data": {"train": f"folder:{shared_data / 'dim-composites'}", "output": 32, "workers": 0},
                "optim": {"lr": 0.001, "batch_size": 2, "epochs": 10, "max_steps": 4}}
    for name in ("straight", "killed"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**settings, "run_dir": str(tmp_path / name)}))
    mattekit(["train", str(tmp_path / "straight.yaml")])
    log = tmp_path / "killed" / "log.csv"
    assert kill_when(["train", str(tmp_path / "killed.yaml")], lambda: len(lines(log)) >= 3)  # mid-epoch: 5 steps
    assert all(line.endswith("\n") for line in lines(log))
    mattekit(["train", str(tmp_path / "killed.yaml"), "--resume"])

    def losses(run: Path) -> dict[int, float]:
        with open(run / "log.csv") as f:
            return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(f)}

    straight, resumed = losses(tmp_path / "straight"), losses(tmp_path / "killed")
    assert sorted(resumed) == [1, 2, 3, 4]
    assert all(abs(resumed[step] - straight[step]) <= 1e-5 * abs(straight[step]) for step in straight)
    assert not list((tmp_path / "killed").rglob(".*"))  # no temporary file left behind
