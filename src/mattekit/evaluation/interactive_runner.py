"""The interactive benchmark: a simulated user works with an engine's session on every image, round after round.

``mattekit eval --interaction KIND`` plays ``mattekit.interactive.simulate.SimulatedUser`` against an engine
that serves sessions and writes to the report folder:

- ``per_round.csv``: one row per image, instance and round: every metric of ``mattekit.evaluation.metrics.
  evaluate`` for that round's alpha (``protocol``, with the ``*_tran`` metrics when the dataset has trimaps),
  the IoU at alpha > 0.5, the round's seconds (wall and CPU; round 1 includes the session's per-image start) and
  ``final`` = 1 on an image's last row. Rows are appended and flushed as rounds finish; a new run with the same
  settings skips images that have their final row and redoes the others (their rows are dropped first), so an
  interrupted run resumes without torn or doubled rows.
- ``prompts/<name>.json``: the prompts of every round, per instance (the JSON of ``mattekit interact``).
- ``predictions/<name>.png`` (``<name>/<instance>.png`` for multi-person sets): the last round's alphas.
- ``summary.json`` / ``summary.md``: per round, the mean of every metric over samples (an image instance that
  stopped early, because the RITM user reached IoU 0.90 or no error was left, keeps its last values, as SEEM
  pads its curves); NoC@85/90 with the RITM user (``noc_summary``, cap 20); median seconds of round 1 and of
  later rounds; IMQ over the instances for multi-person sets (HIM2K, ``synth``).
- ``curve.png``: mean SAD and IoU against the round (DFIMat, arXiv 2410.09788, Fig. 5).

Multi-person sets (``load_instances``): one session per image, one instance per ground-truth instance, played
one after the other; the sentence of an instance is the dataset's (``synth`` captions) or, without one, the
horizontal position among the image's instances (``mattekit.interactive.text.describe_position``; "the
object" for one-object sets).

Example:
    >>> summary = interactive_benchmark("alphamatting:../shared/data/alphamatting", "report",      # doctest: +SKIP
    ...                                 engine="grabcut-cf", interaction="click")
    >>> [round(r["iou"], 2) for r in summary["per_round"]]                                        # doctest: +SKIP
    [0.31, 0.52, 0.68, 0.77, 0.83]
"""

from __future__ import annotations

import csv
import io as text_io
import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mattekit import io
from mattekit.data.samples import Dataset
from mattekit.engines import built
from mattekit.errors import UsageError
from mattekit.evaluation.interactive import imq, mean_curve, noc_summary
from mattekit.evaluation.metrics import evaluate
from mattekit.evaluation.report import markdown_table
from mattekit.evaluation.runner import (PREDICTIONS_DIR, RowWriter, dataset_settings, engine_settings,
                                        metric_columns, read_rows)
from mattekit.interactive.prompts import to_dict
from mattekit.interactive.session import Session, check_engine, share_overlaps
from mattekit.interactive.simulate import SimulatedUser, play
from mattekit.interactive.text import describe_position

CSV_NAME, SETTINGS_NAME, PROMPTS_DIR, PLOT_NAME = "per_round.csv", "settings.json", "prompts", "curve.png"
SUMMARY_JSON, SUMMARY_MD = "summary.json", "summary.md"
TAIL_COLUMNS = ("iou", "seconds", "cpu_seconds", "final")


def _columns(dataset: Dataset, protocol: str) -> list[str]:
    metrics = metric_columns(protocol, dataset.has_trimaps)
    return ["name", *dataset.group_keys, "instance", "round", "prompts", *metrics, *TAIL_COLUMNS]


def _is_multi(dataset: Dataset) -> bool:
    return hasattr(dataset, "load_instances")


def _units(dataset: Dataset) -> list[str]:
    return dataset.image_names if _is_multi(dataset) else dataset.names


def _shrink(image: np.ndarray, mattes: list, max_side: int | None):
    """``image`` and ``mattes`` (alphas, trimap) scaled so the longer side is at most ``max_side``."""
    height, width = image.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return image, mattes
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    nearest = [m is not None and m.dtype == np.uint8 for m in mattes]  # trimaps keep their three values
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), [
        None if m is None else cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) if n
        else np.clip(cv2.resize(m, size, interpolation=cv2.INTER_AREA), 0, 1) for m, n in zip(mattes, nearest)]


def _count_prompts(prompts) -> str:
    """A round's prompts counted by type, e.g. "text:1 click:3"."""
    kinds = [type(p).__name__.lower() for p in prompts]
    return " ".join(f"{k}:{kinds.count(k)}" for k in dict.fromkeys(kinds))


class _Unit:
    """One image of the run: its pixels, ground-truth instances, their sentences and the trimap (if any)."""

    def __init__(self, dataset: Dataset, name: str, max_side: int | None):
        if _is_multi(dataset):
            data = dataset.load_instances(name)
            image, alphas, trimap = data.image, data.alphas, None
            self.ids, texts, noun = data.instances, data.meta.get("texts") or [None] * len(alphas), "person"
            self.group = {k: data.meta.get(k, "") for k in dataset.group_keys}
        else:
            sample = dataset.load(name)
            image, alphas, trimap = sample.image, [sample.alpha], sample.trimap
            self.ids, texts, noun = ["0"], [sample.meta.get("text")], "object"
            self.group = {k: sample.meta.get(k, "") for k in dataset.group_keys}
        image, mattes = _shrink(image, [*alphas, trimap], max_side)
        self.image, self.alphas, self.trimap = image, mattes[:-1], mattes[-1]
        boxes = [_box(a) for a in self.alphas]
        self.texts = [t or describe_position(boxes, i, noun) for i, t in enumerate(texts)]


def _box(alpha: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(alpha > 0.5)
    return (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())) if ys.size else (0, 0, 0, 0)


def _prediction_path(report: Path, name: str, instance: str, multi: bool) -> Path:
    return report / PREDICTIONS_DIR / (f"{name}/{instance}.png" if multi else f"{name}.png")


def _play_unit(dataset, report, name, engine, user, aggregate, protocol, max_side, writer) -> None:
    unit = _Unit(dataset, name, max_side)
    sessions: list[Session] = []

    def factory(image):
        if aggregate or not sessions:
            sessions.append(Session(image, engine))
        return sessions[-1]

    finals, played = {}, {}
    for index, (instance, gt, text) in enumerate(zip(unit.ids, unit.alphas, unit.texts)):
        results = play(factory, unit.image, gt, name, user, text, aggregate, instance=index)
        played[instance] = [[to_dict(p) for p in r.prompts] for r in results]
        finals[index] = results[-1].alpha
        for r in results:
            last = index == len(unit.ids) - 1 and r is results[-1]
            scores = evaluate(r.alpha, gt, unit.trimap, protocol)
            writer.write({"name": name, **unit.group, "instance": instance, "round": r.round,
                          "prompts": _count_prompts(r.prompts), **scores, "iou": r.iou, "seconds": r.seconds,
                          "cpu_seconds": r.cpu_seconds, "final": int(last)})
    shared = sessions[0].instances() if not aggregate else share_overlaps(finals)
    multi = _is_multi(dataset)
    for index, instance in enumerate(unit.ids):
        io.save_alpha(_prediction_path(report, name, instance, multi), shared[index])
    io.write_text(report / PROMPTS_DIR / f"{name}.json", json.dumps(played) + "\n")


def _drop_unfinished(csv_path: Path, rows: list[dict], columns: list[str]) -> list[dict]:
    """Keep only the rows of images that have their final row, rewriting the CSV atomically if any went."""
    finished = {r["name"] for r in rows if r.get("final") == "1"}
    kept = [r for r in rows if r["name"] in finished]
    if len(kept) < len(rows):
        buffer = text_io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(kept)
        io.write_text(csv_path, buffer.getvalue())
    return kept


def run_interactive(dataset: Dataset, report_dir: str | Path, engine, user: SimulatedUser, settings: dict,
                    aggregate: bool = False, protocol: str = "gfm", max_side: int | None = None,
                    limit: int | None = None, progress: bool = True) -> dict:
    """Play ``user`` against ``engine`` (an engine serving sessions, or a function building it once the settings
    are checked) on ``dataset`` (its first ``limit`` images, each scaled to at most ``max_side`` pixels a side)
    into ``report_dir``, resuming; returns the summary."""
    if protocol == "dim" and not dataset.has_trimaps:
        raise UsageError(f"the dim protocol needs a trimap per image; {dataset.kind} at {dataset.root} lacks some.")
    report = Path(report_dir)
    settings = dict(settings, interaction=user.kind, rounds=user.rounds, seed=user.seed, box_jitter=user.box_jitter,
                    aggregate=aggregate, protocol=protocol, max_side=max_side)
    io.check_settings(report / SETTINGS_NAME, settings)
    engine = built(engine)
    check_engine(engine)
    columns = _columns(dataset, protocol)
    csv_path = report / CSV_NAME
    units = _units(dataset)[:limit]
    report.mkdir(parents=True, exist_ok=True)
    if csv_path.is_file():
        RowWriter(csv_path, columns).close()  # checks the header before anything is dropped
    done = {r["name"] for r in _drop_unfinished(csv_path, read_rows(csv_path), columns)}
    io.record_settings(report / SETTINGS_NAME, settings)
    todo = [n for n in units if n not in done]
    writer = RowWriter(csv_path, columns)
    bar = tqdm(total=len(units), initial=len(units) - len(todo), unit="img", disable=not progress,
               desc=f"eval {dataset.kind} {user.kind}", dynamic_ncols=True)
    try:
        for name in todo:
            _play_unit(dataset, report, name, engine, user, aggregate, protocol, max_side, writer)
            bar.update()
    finally:
        bar.close()
        writer.close()
        wanted = set(units)
        rows = [r for r in read_rows(csv_path) if r["name"] in wanted]
        summary = write_interactive_summary(report, dataset, rows, columns, settings, user, units)
    return summary


def _samples(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Rows grouped by (image, instance), each in round order."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        grouped.setdefault((row["name"], row["instance"]), []).append(row)
    return {k: sorted(v, key=lambda r: int(r["round"])) for k, v in grouped.items()}


def _imq(report: Path, dataset: Dataset, names: list[str], max_side: int | None) -> dict:
    """IMQ over the finished images of a multi-person set, from the saved predictions."""
    pairs = []
    for name in names:
        data = dataset.load_instances(name)
        _, gts = _shrink(data.image, list(data.alphas), max_side)
        preds = [io.load_alpha(_prediction_path(report, name, i, True)) for i in data.instances]
        pairs.append((preds, gts))
    return {str(t): v for t, v in imq(pairs).items()}


def write_interactive_summary(report: Path, dataset: Dataset, rows: list[dict], columns: list[str], settings: dict,
                              user: SimulatedUser, units: list[str]) -> dict:
    """Write ``summary.json``, ``summary.md`` and ``curve.png`` for ``rows`` (atomically); return the summary."""
    samples = _samples(rows)
    metrics = [c for c in columns[columns.index("prompts") + 1:] if c not in ("final",)]
    per_round = []
    if samples:
        length = max(user.rounds, max(len(v) for v in samples.values()))
        curves = {m: mean_curve([[_float(r[m]) for r in v] for v in samples.values()], length) for m in metrics}
        for index in range(length):
            played = sum(len(v) > index for v in samples.values())
            per_round.append({"round": index + 1, "played": played, **{m: float(curves[m][index]) for m in metrics}})
    names = sorted({r["name"] for r in rows})
    summary = {
        "dataset": dataset.kind,
        "root": str(dataset.root),
        "settings": settings,
        "images": len(names),
        "dataset_images": len(units),
        "samples": len(samples),
        "complete": len(names) == len(units),
        "per_round": per_round,
        "seconds": _seconds(rows),
    }
    if user.kind == "ritm" and samples:
        summary["noc"] = noc_summary([[_float(r["iou"]) for r in v] for v in samples.values()])
    if _is_multi(dataset) and names:
        summary["imq"] = _imq(report, dataset, names, settings.get("max_side"))
    io.write_text(report / SUMMARY_JSON, json.dumps(summary, indent=2) + "\n")
    io.write_text(report / SUMMARY_MD, render_markdown(summary, metrics))
    if per_round:
        plot_curve(report / PLOT_NAME, per_round, "click" if user.kind == "ritm" else "round",
                   f"{settings.get('engine', '')} · {dataset.kind} · {user.kind}")
    return summary


def _float(text) -> float:
    return float(text) if text not in ("", None) else float("nan")


def _seconds(rows: list[dict]) -> dict:
    """Median wall and CPU seconds of round 1 (with the session's start) and of later rounds."""
    result = {}
    for label, chosen in (("first_round", [r for r in rows if r["round"] == "1"]),
                          ("later_rounds", [r for r in rows if r["round"] != "1"])):
        for column in ("seconds", "cpu_seconds"):
            values = [_float(r[column]) for r in chosen]
            result[f"{label}_{column}"] = float(np.median(values)) if values else None
    return result


def render_markdown(summary: dict, metrics: list[str]) -> str:
    """``summary.md``: the settings, the per-round table, NoC, IMQ and seconds."""
    lines = [f"# Interactive benchmark: {summary['dataset']}", ""]
    lines += [f"- {k}: {v}" for k, v in summary["settings"].items() if v not in (None, "")]
    lines += [f"- images: {summary['images']} of {summary['dataset_images']}, samples (instances): "
              f"{summary['samples']}", ""]
    lines += markdown_table(["round", "played", *metrics], [[r["round"], r["played"], *(r[m] for m in metrics)]
                                                     for r in summary["per_round"]])
    if "noc" in summary:
        lines += ["", "## NoC (RITM protocol, cap 20)", ""]
        lines += markdown_table(list(summary["noc"]), [list(summary["noc"].values())])
    if "imq" in summary:
        lines += ["", "## IMQ over the instances (last round, fractions)", ""]
        parts = list(next(iter(summary["imq"].values()))["imq"])
        lines += markdown_table(["IoU ≥", *parts, "RQ"],
                                [[t, *v["imq"].values(), v["rq"]] for t, v in summary["imq"].items()])
    lines += ["", "## Seconds (median)", ""]
    lines += markdown_table(list(summary["seconds"]), [list(summary["seconds"].values())])
    return "\n".join(lines) + "\n"


def plot_curve(path: Path, per_round: list[dict], unit: str, title: str) -> None:
    """A PNG of mean SAD and IoU against the round (or click), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.2), dpi=100)
    x = [r["round"] for r in per_round]
    for axes, key, label in zip(figure.subplots(1, 2), ("sad", "iou"), ("SAD (÷1000)", "IoU (alpha > 0.5)")):
        axes.plot(x, [r[key] for r in per_round], marker="o")
        axes.set_xlabel(unit)
        axes.set_ylabel(label)
        axes.set_xticks(x if len(x) <= 10 else x[::2])
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    with io.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")


def interactive_benchmark(dataset: str, report_dir: str | Path, engine: str, interaction: str, split=None,
                          weights: str | None = None, engine_options: dict | None = None, rounds: int | None = None,
                          seed: int = 0, box_jitter: int = 0, aggregate: bool = False, protocol: str = "gfm",
                          max_side: int | None = None, limit: int | None = None, progress: bool = True) -> dict:
    """``mattekit eval --interaction``: open ``dataset`` (``KIND:PATH``), build ``engine`` and play the
    simulated user of kind ``interaction`` on every image."""
    from mattekit.data.datasets import open_dataset
    from mattekit.engines import check_options, load_engine

    data = open_dataset(dataset, split)
    user = SimulatedUser(interaction, seed, rounds, box_jitter)
    engine_options = engine_options or {}
    settings = dataset_settings(data) | engine_settings(engine, weights, engine_options)
    check_options(engine, engine_options)
    return run_interactive(data, report_dir, lambda: load_engine(engine, weights=weights, **engine_options), user,
                           settings, aggregate, protocol, max_side, limit, progress)
