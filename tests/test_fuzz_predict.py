"""Fuzzed files through one `mattekit predict` batch: every file matted or refused in one sentence, bounded memory.

Two batches keep the wall time small: 200 small fuzzed files (every format and mode, bit flips, truncations,
splices, scrambled headers, 1x1 ... 4000x2) through the gfm engine with a small randomly initialised checkpoint, and
the extreme sizes through the default engine. ``bench/fuzz_predict.py`` runs a larger set through the default engine.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fuzz_files import EXTREME_SIZES, generate
from mattekit.models.gfm import GFM

SRC = str(Path(__file__).resolve().parents[1] / "src")
TWO_GIB_KB = 2 * 1024 * 1024
# the CLI in a child process that reports its peak resident memory (KiB) on its last line
RUN = ("import resource, sys; from mattekit.cli import main; code = main(sys.argv[1:]); "
       "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)")


def predict(inputs: Path, out: Path, *options: str) -> tuple[str, str, int]:
    """(stdout, stderr, peak KiB) of `mattekit predict INPUTS -o OUT OPTIONS` in a fresh process on one thread."""
    # one thread each: on a shared machine, the busy-waiting worker threads of torch and numba cost ten times more
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", RUN, "predict", str(inputs), "-o", str(out), *options],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    *lines, peak = done.stdout.splitlines()
    return "\n".join(lines), done.stderr, int(peak)


def check_batch(files: list[Path], out: Path, stdout: str, stderr: str) -> int:
    """Assert that each file was matted (decodable outputs of its size) or refused in one sentence naming it and
    left no output; returns how many were matted."""
    assert "Traceback" not in stderr and "unexpected" not in stderr
    failures = {}
    for line in stderr.splitlines():
        if line.startswith("failed: "):
            path = next(p for p in files if line.startswith(f"failed: {p} ") or line.startswith(f"failed: {p}:"))
            failures[path] = line
            assert line.endswith(".") and line.count("\n") == 0
    matted = 0
    for path in files:
        outputs = sorted(out.glob(f"{path.stem}.*"))
        if path in failures:
            assert outputs == [], failures[path]
            continue
        alpha, cutout = Image.open(out / f"{path.stem}.alpha.png"), Image.open(out / f"{path.stem}.cutout.png")
        alpha.load(), cutout.load()
        assert alpha.mode == "L" and cutout.mode == "RGBA" and alpha.size == cutout.size
        matted += 1
    assert re.search(rf"^{matted} of {len(files)} images matted", stdout, re.M), stdout
    assert not list(out.glob(".*"))  # no temporary file left behind
    return matted


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "lite_tt.pth"
    torch.save(GFM("efficientnet_lite0", "tt").state_dict(), path)
    return path


def test_two_hundred_fuzzed_files_in_one_batch(tmp_path, checkpoint):
    files = generate(tmp_path / "in", count=200, seed=12)
    stdout, stderr, peak = predict(tmp_path / "in", tmp_path / "out", "--engine", "gfm", "--weights",
                                   str(checkpoint), "--strategy", "resize", "--device", "cpu")
    matted = check_batch(files, tmp_path / "out", stdout, stderr)
    assert 0.3 * len(files) < matted < 0.9 * len(files)  # both outcomes are exercised
    for width, height in EXTREME_SIZES:  # intact files of extreme sizes are matted at their size
        name = next(p.stem for p in files if p.stem.endswith(f"-{width}x{height}"))
        assert Image.open(tmp_path / "out" / f"{name}.alpha.png").size == (width, height)
    assert peak < TWO_GIB_KB


def test_extreme_sizes_through_the_default_engine(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "in"
    folder.mkdir()
    for width, height in [(1, 1), (4000, 2), (2, 4000), (7, 1)]:
        Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).save(folder / f"x{width}x{height}.png")
    files = sorted(folder.iterdir())
    stdout, stderr, peak = predict(folder, tmp_path / "out", "--background", "white")
    assert check_batch(files, tmp_path / "out", stdout, stderr) == len(files)
    assert Image.open(tmp_path / "out" / "x4000x2.composite.png").size == (4000, 2)
    assert peak < TWO_GIB_KB
