"""The benchmark runner and ``mattekit eval``: reports, resume, interruption, workers, predictions folders."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mattekit import cli, io
from mattekit.data.datasets import open_dataset
from mattekit.engines import ENGINES
from mattekit.errors import InputError, UsageError
from mattekit.evaluation.metrics import evaluate
from mattekit.evaluation.runner import EnginePredictions, benchmark, run_benchmark
from mattekit.matte import Matte

SHARED = Path(__file__).resolve().parents[2] / "shared"
needs_shared = pytest.mark.skipif(not (SHARED / "data").is_dir(), reason=f"shared real data not found at {SHARED}")
FG, BG = np.array([0.9, 0.2, 0.1]), np.array([0.1, 0.3, 0.8])


class NearestMeanEngine:
    """A real, small trimap-based matting method: in the unknown region, alpha is the projection of the pixel's
    colour onto the line from the mean background colour to the mean foreground colour (clipped to [0, 1])."""

    name = "nearest-mean"
    calls: list[str] = []

    def __init__(self, weights=None, stop_after: int | None = None):
        self.stop_after = stop_after

    def predict(self, image: np.ndarray, trimap: np.ndarray | None = None) -> Matte:
        if trimap is None:
            raise InputError("the nearest-mean engine needs a trimap (--trimap-input dataset).")
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise KeyboardInterrupt
        self.calls.append(image.tobytes()[:16].hex())
        rgb = image.astype(np.float32) / 255.0
        fg, bg = rgb[trimap == 255].mean(axis=0), rgb[trimap == 0].mean(axis=0)
        axis = fg - bg
        alpha = np.clip((rgb - bg) @ axis / max(float(axis @ axis), 1e-6), 0.0, 1.0)
        alpha = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, alpha)).astype(np.float32)
        return Matte(alpha=alpha, foreground=rgb)


@pytest.fixture(autouse=True)
def register_engine(monkeypatch):
    monkeypatch.setitem(ENGINES, "nearest-mean", f"{__name__}:NearestMeanEngine")
    monkeypatch.setattr(cli, "VERBS", ("eval",))
    NearestMeanEngine.calls.clear()


def make_set(root: Path, count: int = 4, shape=(12, 20)) -> Path:
    """Images ``alpha·FG + (1 − alpha)·BG`` plus noise growing with the index, so errors differ per image."""
    rng = np.random.default_rng(1)
    h, w = shape
    for i in range(count):
        ramp = np.clip((np.arange(w) - 6 - i) / 6.0, 0, 1)
        alpha = np.tile(ramp, (h, 1))
        image = alpha[..., None] * FG + (1 - alpha[..., None]) * BG + rng.normal(0, 0.03 * i, (h, w, 3))
        trimap = np.where(alpha <= 0, 0, np.where(alpha >= 1, 255, 128)).astype(np.uint8)
        trimap[:, 4 + i:6 + i] = 128  # a margin of known pixels inside the unknown band
        io.save_image(root / "image" / f"im{i}.png", (np.clip(image, 0, 1) * 255).round().astype(np.uint8))
        io.save_alpha(root / "alpha" / f"im{i}.png", alpha)
        io.save_image(root / "trimap" / f"im{i}.png", np.repeat(trimap[..., None], 3, axis=2))
    return root


def rows(report: Path) -> list[dict]:
    with open(report / "per_image.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_engine_run_writes_rows_summary_predictions_and_error_maps(tmp_path):
    data = make_set(tmp_path / "set")
    report = tmp_path / "report"
    summary = benchmark(f"folder:{data}", report, engine="nearest-mean", trimap_input="dataset", worst=2,
                        progress=False)
    table = rows(report)
    assert [r["name"] for r in table] == ["im0", "im1", "im2", "im3"] and len(NearestMeanEngine.calls) == 4
    ds = open_dataset(f"folder:{data}")
    for row in table:
        gt, trimap = ds.truth(row["name"])
        expected = evaluate(io.load_alpha(report / "predictions" / f"{row['name']}.png"), gt, trimap)
        assert set(expected) | {"name", "seconds", "metric_seconds"} == set(row)
        for key, value in expected.items():  # the PNG is the 8-bit rounding of the float prediction scored
            assert float(row[key]) == pytest.approx(value, rel=0.05, abs=2e-3)
        assert float(row["seconds"]) > 0 and float(row["metric_seconds"]) > 0
    sads = [float(r["sad"]) for r in table]
    assert sads[0] < 2e-4 and sads == sorted(sads)  # noise-free image nearly exact; more noise, more error
    assert summary["images"] == 4 and summary["complete"] and summary["settings"]["engine"] == "nearest-mean"
    assert summary["mean"]["sad"] == pytest.approx(np.mean([float(r["sad"]) for r in table]))
    assert json.loads((report / "summary.json").read_text()) == summary
    worst = sorted(table, key=lambda r: -float(r["sad"]))[:2]
    assert [w["name"] for w in summary["worst"]] == [r["name"] for r in worst]
    maps = sorted(p.name for p in (report / "worst").iterdir())
    assert maps == [f"01_{worst[0]['name']}.png", f"02_{worst[1]['name']}.png"]
    panel = np.asarray(Image.open(report / "worst" / f"01_{worst[0]['name']}.png"))
    assert panel.shape == (360, 4 * 600 + 3 * 4, 3)
    md = (report / "summary.md").read_text()
    assert "| images | sad | mse | mad | grad | conn |" in md and "images scored: 4 of 4" in md


def test_resume_skips_finished_rows_and_repairs_a_cut_line(tmp_path):
    data = make_set(tmp_path / "set")
    report = tmp_path / "report"
    ds = open_dataset(f"folder:{data}")
    run_benchmark(ds, report, EnginePredictions(NearestMeanEngine(), "dataset"), progress=False)
    lines = (report / "per_image.csv").read_text().splitlines(keepends=True)
    (report / "per_image.csv").write_text("".join(lines[:3]) + lines[3][:10])  # header, 2 rows, a cut line
    NearestMeanEngine.calls.clear()
    summary = run_benchmark(ds, report, EnginePredictions(NearestMeanEngine(), "dataset"), progress=False)
    assert len(NearestMeanEngine.calls) == 2  # im2 (cut) and im3 only
    assert [r["name"] for r in rows(report)] == ["im0", "im1", "im2", "im3"] and summary["images"] == 4
    NearestMeanEngine.calls.clear()
    run_benchmark(ds, report, EnginePredictions(NearestMeanEngine(), "dataset"), progress=False)
    assert NearestMeanEngine.calls == []  # nothing left to do


def test_interrupted_run_keeps_finished_rows_and_resumes(tmp_path):
    ds = open_dataset(f"folder:{make_set(tmp_path / 'set')}")
    report = tmp_path / "report"
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(ds, report, EnginePredictions(NearestMeanEngine(stop_after=3), "dataset"), progress=False)
    assert [r["name"] for r in rows(report)] == ["im0", "im1", "im2"]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["images"] == 3 and not summary["complete"] and summary["worst"] == []
    assert not list(report.glob(".*"))  # no temporary files left behind
    summary = run_benchmark(ds, report, EnginePredictions(NearestMeanEngine(), "dataset"), progress=False)
    assert summary["complete"] and [r["name"] for r in rows(report)] == ["im0", "im1", "im2", "im3"]


def test_changed_settings_are_refused(tmp_path):
    data = make_set(tmp_path / "set", count=1)
    report = tmp_path / "report"
    benchmark(f"folder:{data}", report, engine="nearest-mean", trimap_input="dataset", progress=False)
    with pytest.raises(UsageError, match=r"holds a run with other settings \(protocol='gfm', not 'dim'\); resume with "
                                         r"the same settings or choose another output folder \(-o\)\.$"):
        benchmark(f"folder:{data}", report, engine="nearest-mean", trimap_input="dataset", protocol="dim")


def test_predictions_folder_with_workers_matches_one_process(tmp_path):
    data = make_set(tmp_path / "set")
    preds = tmp_path / "preds"
    for i in range(4):
        io.save_alpha(preds / f"im{i}.png", np.tile(np.linspace(0, 1, 20), (12, 1)) ** (i + 1))
    one = benchmark(f"folder:{data}", tmp_path / "r1", predictions=preds, protocol="dim", progress=False)
    two = benchmark(f"folder:{data}", tmp_path / "r2", predictions=preds, protocol="dim", workers=2, progress=False)
    by_name = {r["name"]: r for r in rows(tmp_path / "r2")}
    for row in rows(tmp_path / "r1"):
        assert all(row[k] == by_name[row["name"]][k] for k in ("sad", "mse", "grad", "conn"))
        assert row["seconds"] == ""
    assert all(one["mean"][k] == pytest.approx(two["mean"][k], rel=1e-12) for k in ("sad", "mse", "grad", "conn"))
    assert one["mean"]["seconds"] is None  # a predictions folder has no engine time


def test_predictions_folder_errors(tmp_path):
    data = make_set(tmp_path / "set", count=3)
    preds = tmp_path / "preds"
    io.save_alpha(preds / "im0.png", np.zeros((12, 20), np.float32))
    with pytest.raises(InputError, match=r"2 image\(s\) have no prediction in .*preds: im1, im2\."):
        benchmark(f"folder:{data}", tmp_path / "r", predictions=preds)
    assert not (tmp_path / "r").exists()  # refused before anything was written
    with pytest.raises(InputError, match=r"predictions folder .*nothing does not exist"):
        benchmark(f"folder:{data}", tmp_path / "r", predictions=tmp_path / "nothing")
    io.save_alpha(preds / "im1.png", np.zeros((10, 20), np.float32))
    io.save_alpha(preds / "im2.png", np.zeros((12, 20), np.float32))
    with pytest.raises(InputError, match=r"im1\.png is 20x10 but the ground truth is 20x12"):
        benchmark(f"folder:{data}", tmp_path / "r", predictions=preds, progress=False)
    assert [r["name"] for r in rows(tmp_path / "r")] == ["im0"]  # the row scored before the error is kept


def test_summary_per_category(tmp_path):
    root = tmp_path / "aim"
    for folder in ("original", "mask", "trimap"):
        (root / folder).mkdir(parents=True)
    data = make_set(tmp_path / "set", count=3)
    for i, category in enumerate(["animal", "animal", "plant"]):
        for src, dst in (("image", "original"), ("alpha", "mask"), ("trimap", "trimap")):
            (root / dst / f"o_{i}.png").write_bytes((data / src / f"im{i}.png").read_bytes())
    table = {f"o_{i}": {"type": "SO", "category": c} for i, c in enumerate(["animal", "animal", "plant"])}
    (root / "aim_category_type.json").write_text(json.dumps(table))
    summary = benchmark(f"aim500:{root}", tmp_path / "r", engine="nearest-mean", trimap_input="dataset",
                        progress=False)
    table_rows = rows(tmp_path / "r")
    animal = np.mean([float(r["sad"]) for r in table_rows if r["category"] == "animal"])
    assert summary["groups"]["category"]["animal"]["images"] == 2
    assert summary["groups"]["category"]["animal"]["mean"]["sad"] == pytest.approx(animal)
    assert summary["groups"]["type"]["SO"]["images"] == 3
    assert "## By category" in (tmp_path / "r" / "summary.md").read_text()


def test_cli_end_to_end_with_engine_and_argument_errors(tmp_path, capsys):
    data = make_set(tmp_path / "set", count=2)
    report = tmp_path / "out"
    argv = ["eval", "--dataset", f"folder:{data}", "--engine", "nearest-mean", "--trimap-input", "dataset"]
    assert cli.main(argv + ["-o", str(report), "--quiet", "--protocol", "dim"]) == 0
    assert "| images | sad | mse | grad | conn | seconds | metric_seconds |" in capsys.readouterr().out
    assert {p.name for p in report.iterdir()} >= {"per_image.csv", "summary.json", "summary.md", "worst"}
    assert cli.main(["eval", "--dataset", f"folder:{data}", "--engine", "nearest-mean", "-o", str(tmp_path / "b")]) == 1
    assert "mattekit: the nearest-mean engine needs a trimap" in capsys.readouterr().err
    assert cli.main(["eval", "--dataset", f"folder:{data}", "--predictions", str(data), "--weights", "w.pt"]) == 2
    assert "--weights, engine options and --trimap-input go with --engine" in capsys.readouterr().err
    assert cli.main(argv + ["-o", str(tmp_path / "c"), "--d1", "4"]) == 2
    assert "the nearest-mean engine has no option 'd1'; its options: stop_after." in capsys.readouterr().err
    assert cli.main(["eval", "--dataset", f"nope:{data}", "--engine", "nearest-mean"]) == 2
    assert "unknown dataset kind 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["eval", "--dataset", f"folder:{data}", "--engine", "x", "--predictions", str(data)])


@needs_shared
def test_cli_on_real_alphamatting_matches_the_reference_values(tmp_path, capsys):
    preds = tmp_path / "preds"
    preds.mkdir()
    for path in (SHARED / "reference" / "metric-vectors" / "pred" / "alphamatting").glob("*__cf.png"):
        (preds / f"{path.name.split('__')[0]}.png").write_bytes(path.read_bytes())
    report = tmp_path / "report"
    dataset = f"alphamatting:{SHARED / 'data' / 'alphamatting'}"
    assert cli.main(["eval", "--dataset", dataset, "--predictions", str(preds), "-o", str(report), "--workers", "2",
                     "--quiet"]) == 0
    assert "images scored: 18 of 18" in capsys.readouterr().out
    with open(SHARED / "reference" / "metric-vectors" / "expected.csv", newline="") as f:
        expected = [r for r in csv.DictReader(f) if r["dataset"] == "alphamatting" and r["prediction"] == "cf"
                    and r["protocol"] == "gfm"]
    summary = json.loads((report / "summary.json").read_text())
    for metric in ("SAD", "MSE", "MAD", "GRAD", "CONN", "SAD-TRAN", "MSE-TRAN"):
        values = [float(r["value"]) for r in expected if r["metric"] == metric]
        assert len(values) == 18
        assert summary["mean"][metric.lower().replace("-", "_")] == pytest.approx(np.mean(values), rel=1e-9)
    assert len(list((report / "worst").glob("*.png"))) == 5
