"""The summary of a benchmark run: ``summary.json``, ``summary.md`` and error maps of the worst images.

Means are taken over images (the mean of per-image values, as the GFM/P3M/AIM and DIM evaluation scripts
report them), overall and per value of each of the dataset's group keys (AIM-500 category and type, HIM2K
subset). Values that are not numbers (an empty unknown region gives NaN for the ``*_tran`` means) are left
out of a mean. An error map shows, side by side, the image, the ground truth, the prediction and
``|prediction − ground truth|`` in the inferno colour map (black = no error, yellow = error 1).

Example:
    >>> means([{"sad": "1.5", "seconds": ""}, {"sad": "2.5", "seconds": ""}], ["sad", "seconds"])
    {'sad': 2.0, 'seconds': None}
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from mattekit import io
from mattekit.matte import to_uint8

SUMMARY_JSON, SUMMARY_MD, WORST_DIR = "summary.json", "summary.md", "worst"
RANK_BY = "sad"
PANEL_HEIGHT = 360




def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def means(rows: list[dict], columns: list[str]) -> dict[str, float | None]:
    """Mean of each column over the rows that hold a number there (None when none does)."""
    result = {}
    for column in columns:
        values = [v for v in (_number(r.get(column)) for r in rows) if v is not None]
        result[column] = float(np.mean(values)) if values else None
    return result


def error_panel(image: np.ndarray, gt: np.ndarray, pred: np.ndarray, height: int = PANEL_HEIGHT) -> np.ndarray:
    """Image | ground truth | prediction | error heat map, each scaled to ``height`` rows, as uint8 RGB."""
    error = cv2.applyColorMap(to_uint8(np.abs(pred - gt)), cv2.COLORMAP_INFERNO)[..., ::-1]
    tiles = [image, *(np.repeat(to_uint8(m)[..., None], 3, axis=2) for m in (gt, pred)), error]
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    tiles = [cv2.resize(np.ascontiguousarray(t), (width, height), interpolation=cv2.INTER_AREA) for t in tiles]
    gap = np.full((height, 4, 3), 255, np.uint8)
    return np.hstack([part for tile in tiles for part in (tile, gap)][:-1])


def _prediction_file(folder: Path, name: str) -> Path | None:
    return next((p for p in (folder / f"{name}{s}" for s in io.IMAGE_SUFFIXES) if p.is_file()), None)


def write_error_maps(report: Path, dataset, rows: list[dict], predictions: Path, count: int) -> list[dict]:
    """Error maps of the ``count`` rows with the largest SAD into ``report/worst`` (replacing older ones)."""
    folder = report / WORST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    ranked = sorted((r for r in rows if _number(r.get(RANK_BY)) is not None), key=lambda r: -_number(r[RANK_BY]))
    worst = []
    for rank, row in enumerate(ranked[:count], 1):
        path = _prediction_file(predictions, row["name"])
        if path is None:
            continue
        sample = dataset.load(row["name"])
        target = folder / f"{rank:02d}_{row['name'].replace('/', '__')}.png"
        io.save_image(target, error_panel(sample.image, sample.alpha, io.load_alpha(path)))
        error_map = str(target.relative_to(report))
        worst.append({"name": row["name"], RANK_BY: _number(row[RANK_BY]), "error_map": error_map})
    return worst


def markdown_table(header: list[str], lines: list[list]) -> list[str]:
    def cell(v):
        return "–" if v is None else f"{v:.5g}" if isinstance(v, float) else str(v)

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(cell(v) for v in line) + " |" for line in lines
    ]


def render_markdown(summary: dict) -> str:
    """``summary.md``: the settings, the overall means, the means per group, and the worst images."""
    metrics = list(summary["mean"])
    split = f" ({summary['split']})" if summary["split"] else ""
    lines = [f"# Benchmark: {summary['dataset']}{split}", ""]
    lines += [f"- {k}: {v}" for k, v in summary["settings"].items() if v not in (None, "")]
    lines += [f"- images scored: {summary['images']} of {summary['dataset_images']}", ""]
    lines += markdown_table(["images", *metrics], [[summary["images"], *summary["mean"].values()]])
    for key, groups in summary["groups"].items():
        lines += ["", f"## By {key}", ""]
        lines += markdown_table([key, "images", *metrics], [[v, g["images"], *g["mean"].values()] for v, g in groups.items()])
    if summary["worst"]:
        lines += ["", f"## Largest {RANK_BY.upper()}", ""]
        lines += [f"{i}. {w['name']}: {RANK_BY} {w[RANK_BY]:.5g}, [error map]({w['error_map']})"
                  for i, w in enumerate(summary["worst"], 1)]
    return "\n".join(lines) + "\n"


def write_summary(report: Path, dataset, rows: list[dict], columns: list[str], settings: dict, predictions: Path,
                  worst: int) -> dict:
    """Write ``summary.json`` and ``summary.md`` (atomically) and, if ``worst`` > 0, the error maps; return it."""
    numeric = [c for c in columns if c != "name" and c not in dataset.group_keys]
    groups = {}
    for key in dataset.group_keys:
        values = sorted({r[key] for r in rows})
        groups[key] = {
            v: {"images": sum(r[key] == v for r in rows), "mean": means([r for r in rows if r[key] == v], numeric)}
            for v in values
        }
    summary = {
        "dataset": dataset.kind,
        "root": str(dataset.root),
        "split": dataset.split,
        "settings": settings,
        "images": len(rows),
        "dataset_images": len(dataset),
        "complete": len(rows) == len(dataset),
        "mean": means(rows, numeric),
        "groups": groups,
        "worst": write_error_maps(report, dataset, rows, predictions, worst) if worst else [],
    }
    io.write_text(report / SUMMARY_JSON, json.dumps(summary, indent=2) + "\n")
    io.write_text(report / SUMMARY_MD, render_markdown(summary))
    return summary
