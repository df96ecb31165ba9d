"""``mattekit metrics``: the numbers of evaluate() for files, as text or JSON, and one-sentence errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mattekit.cli import main
from mattekit.evaluation.metrics import evaluate
from mattekit.io import save_alpha


@pytest.fixture
def pair(tmp_path):
    gt = np.zeros((20, 30), np.uint8)
    gt[5:15, 8:22] = 255
    gt[5:15, 7] = 128
    pred = np.clip(gt.astype(int) + np.arange(30) - 15, 0, 255).astype(np.uint8)
    trimap = np.where(gt == 255, 255, 0).astype(np.uint8)
    trimap[4:16, 6:9] = 128
    paths = {name: tmp_path / f"{name}.png" for name in ("pred", "gt", "trimap")}
    for name, array in (("pred", pred), ("gt", gt), ("trimap", trimap)):
        save_alpha(paths[name], array)
    return paths, pred, gt, trimap


@pytest.mark.parametrize("protocol", ["gfm", "dim"])
def test_json_output_is_evaluate_on_the_files(pair, capsys, protocol):
    paths, pred, gt, trimap = pair
    argv = ["metrics", str(paths["pred"]), str(paths["gt"]), "--trimap", str(paths["trimap"]), "--protocol", protocol]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == evaluate(pred, gt, trimap, protocol=protocol)


def test_text_output_lists_each_metric_on_its_own_line(pair, capsys):
    paths, pred, gt, _ = pair
    assert main(["metrics", str(paths["pred"]), str(paths["gt"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["sad", "mse", "mad", "grad", "conn"]
    assert float(lines[0].split()[1]) == pytest.approx(evaluate(pred, gt)["sad"], rel=1e-5)


def test_json_writes_nan_as_null(tmp_path, capsys):
    save_alpha(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    save_alpha(tmp_path / "t.png", np.zeros((4, 4), np.uint8))  # no unknown pixel: MSE-TRAN has no pixels to average
    alpha, trimap = str(tmp_path / "a.png"), str(tmp_path / "t.png")
    assert main(["metrics", alpha, alpha, "--trimap", trimap, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mse_tran"] is None


def test_size_mismatch_and_missing_trimap_are_one_sentence(pair, tmp_path, capsys):
    paths = pair[0]
    save_alpha(tmp_path / "small.png", np.zeros((10, 10), np.uint8))
    assert main(["metrics", str(tmp_path / "small.png"), str(paths["gt"])]) == 1
    assert capsys.readouterr().err == (
        f"mattekit: {tmp_path / 'small.png'} is 10x10 but {paths['gt']} is 30x20; "
        "a prediction must have its ground truth's size.\n"
    )
    assert main(["metrics", str(paths["pred"]), str(paths["gt"]), "--protocol", "dim"]) == 1
    assert "needs a trimap" in capsys.readouterr().err
