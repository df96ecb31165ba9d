"""``mattekit eval --interaction``: per-round CSV, summary and curve, resuming, NoC, and multi-person scenes."""

import csv
import json

import cv2
import numpy as np
import pytest

from mattekit import io
from mattekit.cli import main
from mattekit.data.datasets import open_dataset
from mattekit.evaluation.interactive_runner import CSV_NAME, write_interactive_summary
from mattekit.interactive.simulate import SimulatedUser

PHOTOS = ("GT01", "GT02", "GT04")


@pytest.fixture
def tiny_folder(shared_data, tmp_path):
    """Three alphamatting photos and their alphas shrunk to 64 pixels on the longer side."""
    root = tmp_path / "tiny"
    for name in PHOTOS:
        image = io.load_image(shared_data / "alphamatting" / "image" / f"{name}.png")
        alpha = io.load_alpha(shared_data / "alphamatting" / "alpha" / f"{name}.png")
        scale = 64 / max(image.shape[:2])
        io.save_image(root / "image" / f"{name}.png", cv2.resize(image, None, fx=scale, fy=scale,
                                                                interpolation=cv2.INTER_AREA))
        io.save_alpha(root / "alpha" / f"{name}.png", cv2.resize(alpha, None, fx=scale, fy=scale,
                                                                interpolation=cv2.INTER_AREA))
    return root


def rounds_without_time(summary):
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in summary["per_round"]]


def test_eval_click_writes_rows_summary_and_curve_and_resumes_to_the_same_summary(tiny_folder, tmp_path, capsys):
    report = tmp_path / "report"
    argv = ["eval", "--dataset", f"folder:{tiny_folder}", "--engine", "grabcut-cf", "--interaction", "click",
            "--seed", "3", "-o", str(report), "--quiet"]
    assert main(argv) == 0
    assert "| round | played | sad |" in capsys.readouterr().out
    with open(report / CSV_NAME, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["name"] for r in rows} == set(PHOTOS)
    assert all(r["prompts"] == "click:3" for r in rows)
    assert [r["final"] for r in rows].count("1") == 3
    summary = json.loads((report / "summary.json").read_text())
    assert [r["round"] for r in summary["per_round"]] == [1, 2, 3, 4, 5] and summary["complete"]
    first_round = [float(r["sad"]) for r in rows if r["round"] == "1"]
    assert summary["per_round"][0]["sad"] == pytest.approx(np.mean(first_round))
    assert (report / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    prompts = json.loads((report / "prompts" / "GT02.json").read_text())
    assert len(prompts["0"][0]) == 3 and prompts["0"][0][0]["type"] == "click"

    lines = (report / CSV_NAME).read_bytes().splitlines(keepends=True)
    (report / CSV_NAME).write_bytes(b"".join(lines[:-1]))  # the last image lost its final row
    assert main(argv) == 0
    again = json.loads((report / "summary.json").read_text())
    assert rounds_without_time(again) == rounds_without_time(summary)
    with open(report / CSV_NAME, newline="") as f:
        assert len(list(csv.DictReader(f))) == len(rows)

    assert main([*argv[:-3], "--seed", "4", "-o", str(report), "--quiet"]) == 2
    assert "holds a run with other settings (seed=3, not 4); resume with the same" in capsys.readouterr().err


def test_noc_from_rounds_of_known_ious(tmp_path):
    (tmp_path / "image").mkdir()
    io.save_image(tmp_path / "image" / "a.png", np.zeros((4, 4, 3), np.uint8))
    io.save_alpha(tmp_path / "alpha" / "a.png", np.ones((4, 4), np.float32))
    dataset = open_dataset(f"folder:{tmp_path}")
    sequences = {"a": [0.5, 0.86, 0.91], "b": [0.2, 0.3, 0.87, 0.88], "c": [0.95]}
    columns = ["name", "instance", "round", "prompts", "sad", "iou", "seconds", "cpu_seconds", "final"]
    rows = [{"name": n, "instance": "0", "round": str(i + 1), "prompts": "click:1", "sad": "1", "iou": str(v),
             "seconds": "0.1", "cpu_seconds": "0.1", "final": str(int(i == len(s) - 1))}
            for n, s in sequences.items() for i, v in enumerate(s)]
    summary = write_interactive_summary(tmp_path / "report", dataset, rows, columns, {}, SimulatedUser("ritm"),
                                        ["a", "b", "c"])
    # NoC@85: 2, 3, 1 -> 2.0; NoC@90: 3, 20 (never), 1 -> 8.0
    assert summary["noc"] == {"noc@85": 2.0, "nof@85": 0, "noc@90": 8.0, "nof@90": 1}
    assert summary["per_round"][3]["iou"] == pytest.approx((0.91 + 0.88 + 0.95) / 3)  # stopped users keep theirs
    assert [r["played"] for r in summary["per_round"][:5]] == [3, 2, 2, 1, 0]


def scenes_folder(root, count=2):
    """Synthetic three-person scenes in the HIM2K layout with captions, drawn with OpenCV."""
    captions = {}
    for s in range(count):
        image = np.full((60, 120, 3), (40 + 30 * s, 120, 90), np.uint8)
        name = f"scene_{s}"
        for i, (x, colour) in enumerate(((15, (220, 40, 40)), (55, (40, 220, 40)), (95, (240, 240, 60)))):
            alpha = np.zeros((60, 120), np.float32)
            cv2.ellipse(alpha, (x, 14), (6, 7), 0, 0, 360, 1.0, -1)
            cv2.rectangle(alpha, (x - 9, 22), (x + 9, 59), 1.0, -1)
            image[alpha > 0] = colour
            io.save_alpha(root / "alphas" / name / f"{i:02d}.png", alpha)
        io.save_image(root / "images" / f"{name}.png", image)
        captions[name] = {"00": "the person on the left", "01": "the person in the middle",
                          "02": "the person on the right"}
    (root / "captions.json").write_text(json.dumps(captions))
    return root


def test_multi_person_scenes_play_every_instance_with_its_caption_and_give_imq(tmp_path):
    root = scenes_folder(tmp_path / "scenes")
    report = tmp_path / "report"
    argv = ["eval", "--dataset", f"synth:{root}", "--engine", "grabcut-cf", "--interaction", "mixed",
            "--rounds", "2", "-o", str(report), "--quiet"]
    assert main(argv) == 0
    with open(report / CSV_NAME, newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted({(r["name"], r["instance"]) for r in rows}) == [
        (f"scene_{s}", f"{i:02d}") for s in range(2) for i in range(3)]
    prompts = json.loads((report / "prompts" / "scene_1.json").read_text())
    assert prompts["02"][0][0] == {"type": "text", "text": "the person on the right"}
    summary = json.loads((report / "summary.json").read_text())
    assert summary["samples"] == 6 and set(summary["imq"]) == {"0.5", "0.75"}
    assert 0 <= summary["imq"]["0.5"]["rq"] <= 1
    assert (report / "predictions" / "scene_0" / "02.png").is_file()


def test_interactive_usage_errors(tiny_folder, tmp_path, capsys):
    base = ["eval", "--dataset", f"folder:{tiny_folder}", "-o", str(tmp_path / "r"), "--quiet"]
    assert main([*base, "--engine", "grabcut-cf", "--interaction", "tap"]) == 2
    assert "unknown interaction 'tap'" in capsys.readouterr().err
    assert main([*base, "--predictions", str(tiny_folder / "alpha"), "--interaction", "click"]) == 2
    assert "give --engine, not --predictions" in capsys.readouterr().err
    assert main([*base, "--engine", "default", "--interaction", "click"]) == 2
    assert "does not serve interactive sessions" in capsys.readouterr().err
    assert main([*base, "--engine", "grabcut-cf", "--rounds", "3"]) == 2
    assert "go with --interaction" in capsys.readouterr().err


def test_compose_scenes_writes_the_him2k_layout_with_layout_captions(tmp_path):
    portraits, backgrounds = tmp_path / "portraits", tmp_path / "backgrounds"
    rng = np.random.default_rng(0)
    for i in range(4):
        alpha = np.zeros((40, 24), np.float32)
        cv2.ellipse(alpha, (12, 8), (5, 6), 0, 0, 360, 1.0, -1)
        cv2.rectangle(alpha, (4, 14), (19, 39), 1.0, -1)
        io.save_image(portraits / "image" / f"p{i}.png", np.full((40, 24, 3), 60 * i, np.uint8))
        io.save_alpha(portraits / "alpha" / f"p{i}.png", alpha)
    io.save_image(backgrounds / "bg.png", rng.integers(0, 256, (80, 160, 3), dtype=np.uint8))
    argv = ["compose", str(portraits), str(backgrounds), "--mode", "scenes", "--count", "2", "--seed", "5"]
    assert main([*argv, "-o", str(tmp_path / "a")]) == 0 and main([*argv, "-o", str(tmp_path / "b")]) == 0
    for name in ("images/scene_001.jpg", "alphas/scene_001/02.png", "captions.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    dataset = open_dataset(f"synth:{tmp_path / 'a'}")
    assert dataset.image_names == ["scene_000", "scene_001"]
    scene = dataset.load_instances("scene_000")
    centres = [np.nonzero(a > 0.5)[1].mean() for a in scene.alphas]
    order = {"the person on the left": 0, "the person in the middle": 1, "the person on the right": 2}
    ranks = [order[text] for text in scene.meta["texts"]]
    assert sorted(range(3), key=lambda i: centres[i]) == sorted(range(3), key=lambda i: ranks[i])
