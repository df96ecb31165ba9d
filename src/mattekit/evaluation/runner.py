"""The benchmark runner: score an engine, or a folder of predicted alphas, on a dataset, and write a report.

``REPORT/per_image.csv`` gets one row per image (metrics of ``mattekit.evaluation.metrics.evaluate``, the
engine's seconds, the seconds spent scoring), appended and flushed as each image finishes, so an interrupted run
loses nothing; a new run with the same settings skips the images already there. ``REPORT/settings.json`` records
what is being scored, and resuming with other settings is refused. At the end (and when interrupted) the summary
files are rewritten atomically; see ``mattekit.evaluation.report``. Engine predictions are kept as
``REPORT/predictions/<name>.png``, so they can be re-scored with ``--predictions`` and drawn in the error maps.

Parallelism: ``workers`` processes score images. With a predictions folder each worker reads a prediction and its
ground truth and scores it; with an engine, the engine runs in this process (one model in memory, its own
threads) while the workers score the predictions it has finished. With ``ray``, a pool of Ray actors (each with
its own engine) predicts and scores, and this process writes the rows in the dataset's order
(``mattekit.distributed``), so the CSV and the report are those of a run here.

Example:
    >>> from mattekit.data.datasets import open_dataset                                         # doctest: +SKIP
    >>> ds = open_dataset("alphamatting:../shared/data/alphamatting")                              # doctest: +SKIP
    >>> summary = run_benchmark(ds, "report", PredictionFolder("preds"), settings={"note": "cf"})  # doctest: +SKIP
    >>> summary["mean"]["sad"]                                                                     # doctest: +SKIP
    1.23
"""

from __future__ import annotations

import csv
import multiprocessing
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mattekit import io
from mattekit.data.samples import Dataset, name_list
from mattekit.engines import built
from mattekit.errors import InputError, UsageError
from mattekit.evaluation.metrics import DIM_KEYS, GFM_KEYS, GFM_TRIMAP_KEYS, evaluate
from mattekit.evaluation.report import write_summary

CSV_NAME, SETTINGS_NAME, PREDICTIONS_DIR = "per_image.csv", "settings.json", "predictions"
TIME_COLUMNS = ("seconds", "metric_seconds")


class PredictionFolder:
    """Predicted alphas in ``folder`` named after the samples (``<name>.png``, any image suffix)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"predictions folder {self.folder} does not exist.")

    def paths(self, names: list[str]) -> dict[str, Path]:
        """The prediction file of every name, or InputError listing the names that have none."""
        found, missing = {}, []
        for name in names:
            candidates = (self.folder / f"{name}{suffix}" for suffix in io.IMAGE_SUFFIXES)
            path = next((p for p in candidates if p.is_file()), None)
            if path is None:
                missing.append(name)
            found[name] = path
        if missing:
            raise InputError(f"{len(missing)} image(s) have no prediction in {self.folder}: {name_list(missing)}.")
        return found


class EnginePredictions:
    """Predictions made by ``engine`` as the run goes (an engine, or a function building it when the first image
    is predicted); ``trimap_input`` says whether it sees the dataset trimap."""

    def __init__(self, engine, trimap_input: str = "none"):
        if trimap_input not in ("none", "dataset"):
            raise UsageError(f"--trimap-input must be none or dataset, not {trimap_input!r}.")
        self.engine, self.trimap_input = engine, trimap_input

    def predict(self, sample) -> tuple[np.ndarray, float]:
        """The engine's alpha for ``sample`` and the seconds it took."""
        trimap = sample.trimap if self.trimap_input == "dataset" else None
        self.engine = built(self.engine)
        start = time.perf_counter()
        alpha = np.asarray(self.engine.predict(sample.image, trimap).alpha, np.float32)
        return alpha, time.perf_counter() - start


def metric_columns(protocol: str, with_trimap: bool) -> tuple[str, ...]:
    """The metric columns a run writes: every key ``evaluate`` returns under ``protocol``."""
    if protocol == "dim":
        return DIM_KEYS
    return GFM_KEYS + GFM_TRIMAP_KEYS if with_trimap else GFM_KEYS


_WORKER: dict = {}


def _start_worker(dataset: Dataset, protocol: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the run in the main process, which ends the pool
    _WORKER.update(dataset=dataset, protocol=protocol)


def score(name: str, prediction: Path | np.ndarray, seconds: float | None, dataset=None, protocol=None) -> dict:
    """One CSV row: ``prediction`` (a file or an alpha array) scored against ``name``'s ground truth."""
    if dataset is None:  # in a worker process: set once by _start_worker
        dataset, protocol = _WORKER["dataset"], _WORKER["protocol"]
    start = time.perf_counter()
    gt, trimap = dataset.truth(name)
    pred = io.load_alpha(prediction) if isinstance(prediction, Path) else prediction
    if pred.shape != gt.shape:
        where = prediction if isinstance(prediction, Path) else f"the prediction for {name}"
        raise InputError(
            f"{where} is {pred.shape[1]}x{pred.shape[0]} but the ground truth is {gt.shape[1]}x{gt.shape[0]}."
        )
    scores = evaluate(pred, gt, trimap, protocol)
    meta = dataset.meta(name)
    row = {"name": name, **{k: meta.get(k, "") for k in dataset.group_keys}, **scores}
    return row | {"seconds": "" if seconds is None else seconds, "metric_seconds": time.perf_counter() - start}


def read_rows(csv_path: Path) -> list[dict]:
    """The complete rows of ``per_image.csv``; a last line cut short by an interruption is removed from the file."""
    if not csv_path.is_file():
        return []
    data = csv_path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(csv_path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
    with open(csv_path, newline="") as f:
        return list(csv.DictReader(f))


class RowWriter:
    """Appends rows to the CSV, flushing each, and checks that an existing file has the expected columns."""

    def __init__(self, csv_path: Path, columns: list[str]):
        exists = csv_path.is_file() and csv_path.stat().st_size > 0
        if exists:
            with open(csv_path, newline="") as f:
                header = next(csv.reader(f), [])
            if header != columns:
                raise UsageError(f"{csv_path} has columns {header}, not {columns}; write to another folder (-o).")
        self.file = open(csv_path, "a", newline="")
        self.writer = csv.DictWriter(self.file, columns)
        if not exists:
            self.writer.writeheader()

    def write(self, row: dict) -> None:
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def run_benchmark(
    dataset: Dataset,
    report_dir: str | Path,
    source: PredictionFolder | EnginePredictions,
    protocol: str = "gfm",
    workers: int = 1,
    settings: dict | None = None,
    worst: int = 5,
    progress: bool = True,
    ray: dict | None = None,
) -> dict:
    """Score ``source`` on ``dataset`` into ``report_dir`` (resuming), and return the summary written there.

    With ``ray`` (keyword options of ``mattekit.distributed.ray_map``: address, actors, gpus), Ray actors predict
    and score the images and this process writes their rows in the dataset's order, as a run here would.
    """
    if ray is not None:
        from mattekit.distributed import check_ray

        check_ray(ray.get("address"))
        if workers != 1:
            raise UsageError("--workers goes without --ray; on Ray the actors score the images.")
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}.")
    if protocol == "dim" and not dataset.has_trimaps:
        raise UsageError(f"the dim protocol needs a trimap per image; {dataset.kind} at {dataset.root} lacks some.")
    if isinstance(source, EnginePredictions) and source.trimap_input == "dataset" and not dataset.has_trimaps:
        raise UsageError(f"--trimap-input dataset needs trimaps; {dataset.kind} at {dataset.root} lacks some.")
    report = Path(report_dir)
    settings = dict(settings or {}, protocol=protocol)
    io.check_settings(report / SETTINGS_NAME, settings)
    columns = ["name", *dataset.group_keys, *metric_columns(protocol, dataset.has_trimaps), *TIME_COLUMNS]
    csv_path = report / CSV_NAME
    done = {row["name"] for row in read_rows(csv_path)}
    todo = [n for n in dataset.names if n not in done]
    files = source.paths(todo) if isinstance(source, PredictionFolder) else {}
    report.mkdir(parents=True, exist_ok=True)
    io.record_settings(report / SETTINGS_NAME, settings)
    writer = RowWriter(csv_path, columns)
    bar = tqdm(total=len(dataset), initial=len(dataset) - len(todo), unit="img", disable=not progress,
               desc=f"eval {dataset.kind}", dynamic_ncols=True)
    complete = False
    try:
        work = ImageScoring(dataset, report, source, protocol, files)
        if ray is not None:
            from mattekit.distributed import in_order, ray_map

            for row in in_order(ray_map(work, todo, **ray)):
                writer.write(row)
                bar.update()
        elif workers == 1:
            for name in todo:
                writer.write(work(name))
                bar.update()
        else:
            _run_pool(dataset, report, source, protocol, todo, files, writer, bar, workers)
        complete = True
    finally:
        bar.close()
        writer.close()
        rows = read_rows(csv_path)
        predictions = source.folder if isinstance(source, PredictionFolder) else report / PREDICTIONS_DIR
        summary = write_summary(report, dataset, rows, columns, settings, predictions, worst if complete else 0)
    return summary


def _predict(dataset, report, source, name):
    """(prediction, seconds) for ``name``: a file to read, or the engine's alpha (also saved as a PNG)."""
    sample = dataset.load(name)
    alpha, seconds = source.predict(sample)
    io.save_alpha(report / PREDICTIONS_DIR / f"{name}.png", alpha)
    return alpha, seconds


@dataclass
class ImageScoring:
    """The work of a run on one image, the same here and on a Ray actor: its prediction (the folder's file, or the
    engine's alpha, saved under ``predictions/``) scored into a CSV row."""

    dataset: Dataset
    report: Path
    source: PredictionFolder | EnginePredictions
    protocol: str
    files: dict[str, Path]

    def __call__(self, name: str) -> dict:
        if self.files:
            prediction, seconds = self.files[name], None
        else:
            prediction, seconds = _predict(self.dataset, self.report, self.source, name)
        return score(name, prediction, seconds, self.dataset, self.protocol)


def _run_pool(dataset, report, source, protocol, todo, files, writer, bar, workers) -> None:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    pending: set[Future] = set()

    def collect(block: bool) -> None:
        nonlocal pending
        finished, pending = wait(pending, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in finished:
            writer.write(future.result())
            bar.update()

    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(dataset, protocol)) as pool:
        try:
            for name in todo:
                prediction, seconds = (files[name], None) if files else _predict(dataset, report, source, name)
                pending.add(pool.submit(score, name, prediction, seconds))
                collect(block=len(pending) >= 2 * workers)
            while pending:
                collect(block=True)
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


def benchmark(
    dataset: str,
    report_dir: str | Path,
    split: str | None = None,
    engine: str | None = None,
    weights: str | None = None,
    engine_options: dict | None = None,
    predictions: str | Path | None = None,
    trimap_input: str = "none",
    protocol: str = "gfm",
    workers: int = 1,
    worst: int = 5,
    progress: bool = True,
    ray: dict | None = None,
) -> dict:
    """``mattekit eval``: open ``dataset`` (``KIND:PATH``), score ``engine`` or the ``predictions`` folder on it.

    Exactly one of ``engine`` and ``predictions`` is given; ``weights``, ``engine_options`` (keyword options of
    ``load_engine``) and ``trimap_input`` go with an engine. With ``ray`` (see ``run_benchmark``) each Ray actor
    builds the engine once (a function building it travels to the actors).
    """
    from mattekit.data.datasets import open_dataset
    from mattekit.engines import check_options, load_engine

    if (engine is None) == (predictions is None):
        raise UsageError("give either --engine NAME or --predictions DIR, not both and not neither.")
    engine_options = engine_options or {}
    if predictions is not None and (weights is not None or engine_options or trimap_input != "none"):
        raise UsageError("--weights, engine options and --trimap-input go with --engine, not with --predictions.")
    data = open_dataset(dataset, split)
    settings = dataset_settings(data)
    if predictions is not None:
        source = PredictionFolder(predictions)
        settings["predictions"] = str(Path(predictions).resolve())
    else:
        check_options(engine, engine_options)  # the engine itself is built once the run's settings are checked
        source = EnginePredictions(partial(load_engine, engine, weights=weights, **engine_options), trimap_input)
        settings |= engine_settings(engine, weights, engine_options) | {"trimap_input": trimap_input}
    return run_benchmark(data, report_dir, source, protocol, workers, settings, worst, progress, ray)


def dataset_settings(data: Dataset) -> dict:
    """The settings entries naming a dataset: its kind, absolute folder and split."""
    return {"dataset": f"{data.kind}:{data.root.resolve()}", "split": data.split}


def engine_settings(engine: str, weights: str | None, engine_options: dict) -> dict:
    """The settings entries naming an engine: its name, absolute weights paths and options."""
    weights_path = weights and ",".join(str(Path(w).resolve()) for w in weights.split(","))
    settings = {"engine": engine, "weights": weights_path}
    return settings | {f"engine.{key}": value for key, value in sorted(engine_options.items())}
