"""Batch matting on a Ray cluster: the local batch's per-image work (``mattekit.batch.ImageMatting``) run by a pool
of Ray Data actors, each of which builds the engine once.

The pipeline: the input paths (``ray.data.from_items``, one block per path up to ``MAX_BLOCKS``) go through
``map_batches`` on a fixed pool of actors; an actor decodes, mattes and writes the outputs of one image at a time
(atomically, with the local names, so the output folder must be one every node sees), and returns its outcome,
which the driver records in a ``BatchReport``, with the progress bar and lines of the local batch. Ray itself is
optional (the ``distributed`` extra) and imported only here, only when called.

Sizing (``actor_resources``): ``--ray`` alone starts a local Ray instance with this machine's CPUs; by default the
pool has one actor per CPU but one, and the actors together hold at most every CPU but one (an actor gets
``min(1, (cpus - 1) / actors)`` CPUs), so Ray Data's own tasks and the driver always have a CPU: on 2 cores, one
actor holds one CPU, or two actors half a CPU each. An actor's threads (ONNX Runtime, PyTorch, OpenCV) are not
limited by this share; it only tells Ray how many actors fit.

Failures: an image that fails is a sentence in the report, as in the local batch. An actor that dies (its node
lost, killed for memory) ends the run (``max_restarts=0``: Ray Data would otherwise restart actors and retry their
work without end, and log a line per actor); the outputs written so far are complete files, so rerunning with
``--skip-existing`` goes on where the run stopped.

Example:
    >>> from functools import partial                                                      # doctest: +SKIP
    >>> from mattekit.engines import load_engine                                           # doctest: +SKIP
    >>> report = predict_files_ray(["photos/"], "out", partial(load_engine, "default"), actors=2)  # doctest: +SKIP
    >>> report.failed                                                                      # doctest: +SKIP
    {}
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path

from mattekit import errors
from mattekit.batch import BatchReport, ImageMatting, Outcome, follow, plan
from mattekit.errors import MattekitError, UsageError
from mattekit.extras import require

FEATURE = "matting on Ray (--ray)"
MAX_BLOCKS = 1000  # paths are split into at most this many blocks, the units Ray Data hands to actors
OBJECT_STORE_BYTES = 256 * 2**20  # a local instance's object store: only paths and outcomes travel through it
ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.-]+:\d+)$")


def check_address(address: str | None) -> None:
    """Refuse an ``--ray`` address Ray would not understand (often an input path placed right after ``--ray``)."""
    if address is not None and not ADDRESS.match(address):
        raise UsageError(f"--ray takes auto, ray://HOST:PORT or HOST:PORT, not {address!r}; put --ray after the "
                         "inputs.")


def start_ray(address: str | None = None):
    """Ray, connected: to the instance this process already has; else to the cluster at ``address`` (``auto``,
    ``ray://HOST:PORT``, ``HOST:PORT``); else to a new local instance sized to this machine. Returns (the ray
    module, whether this call connected, so the caller disconnects). Ray's own logging stays quiet."""
    ray, _ = require("distributed", "ray", "ray.data", feature=FEATURE)
    check_address(address)
    if ray.is_initialized():
        return ray, False
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if address in (None, "local"):
        ray.init(address="local", num_cpus=len(os.sched_getaffinity(0)), object_store_memory=OBJECT_STORE_BYTES,
                 **quiet)
    else:
        ray.init(address=address, **quiet)
    return ray, True


def actor_resources(total_cpus: float, actors: int | None) -> tuple[int, float]:
    """(actors, CPUs per actor) for a cluster of ``total_cpus``: every CPU but one is left to the pool (half of
    one CPU on a one-CPU machine), one CPU an actor at most.

    >>> actor_resources(2, None), actor_resources(2, 2), actor_resources(16, 4), actor_resources(1, None)
    ((1, 1.0), (2, 0.5), (4, 1.0), (1, 0.5))
    """
    if actors is not None and actors < 1:
        raise UsageError(f"--ray-actors must be at least 1, not {actors}.")
    free = max(total_cpus - 1, total_cpus / 2)
    actors = actors or max(1, int(free))
    return actors, min(1.0, free / actors)


class MattingActor:
    """A Ray Data actor: ``ImageMatting`` of each path of a batch, in the driver's working folder (so relative
    paths and the sentences naming them are the local batch's). An engine that cannot be built is a ``fatal`` row
    naming the error, and every later row of this actor repeats it."""

    def __init__(self, work: ImageMatting, cwd: str):
        if os.path.isdir(cwd):
            os.chdir(cwd)
        self.work, self.fatal = work, None

    def __call__(self, batch: dict) -> dict:
        rows = {"index": [], "kind": [], "message": [], "seconds": []}
        for index, path in zip(batch["index"], batch["path"]):
            if self.fatal is None:
                try:
                    outcome = self.work(Path(path))
                except MattekitError as e:
                    self.fatal = (type(e).__name__, str(e))
            kind, message, seconds = ("fatal:" + self.fatal[0], self.fatal[1], 0.0) if self.fatal else \
                (outcome.kind, outcome.message, outcome.seconds)
            for key, value in zip(rows, (int(index), kind, message, float(seconds))):
                rows[key].append(value)
        return rows


def run_pool(ray, items: list[dict], actor, args: tuple, actors: int | None, gpus: float):
    """The rows ``actor(*args)`` returns for ``items``, in any order, from a fixed pool of actors (see
    ``actor_resources``) with ``gpus`` GPUs each; an actor's ``fatal:KIND`` row raises that mattekit error."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the caller shows its own
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    actors, cpus = actor_resources(ray.cluster_resources().get("CPU", 1), actors)
    with warnings.catch_warnings():  # max_restarts has no named parameter in Ray 2.60; the pin keeps it working
        warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
        dataset = ray.data.from_items(items, override_num_blocks=min(len(items), MAX_BLOCKS)).map_batches(
            actor, fn_constructor_args=args, batch_size=1, batch_format="numpy", num_cpus=cpus, num_gpus=gpus or None,
            compute=ray.data.ActorPoolStrategy(size=actors), max_restarts=0)
    for row in dataset.iter_rows():
        if row["kind"].startswith("fatal:"):
            raise getattr(errors, row["kind"][len("fatal:"):], MattekitError)(row["message"])
        yield row


def predict_files_ray(inputs, out_dir, engine, trimap=None, background: str | None = None,
                      max_size: int | None = None, skip_existing: bool = False, max_pixels: int | None = None,
                      debug: bool = False, max_memory: int | None = None, address: str | None = None,
                      actors: int | None = None, gpus: float = 0) -> BatchReport:
    """``mattekit.batch.predict_files`` on Ray: the same outputs, skips and failures, the report in input order.

    ``engine`` is a function that builds the engine (sent to each actor, called there once); ``address`` as in
    ``start_ray``; ``actors`` the pool's size (default: see ``actor_resources``); ``gpus`` each actor's GPUs
    (fractions share a GPU between actors).
    """
    require("distributed", "ray", "ray.data", feature=FEATURE)
    check_address(address)
    if gpus < 0:
        raise UsageError(f"--ray-gpus must be 0 or more, not {gpus:g}.")
    paths, report = plan(inputs, out_dir, trimap)
    if not paths:
        return report
    work = ImageMatting(out_dir, engine, trimap, background, max_size, skip_existing, max_pixels, max_memory, debug)
    ray, started = start_ray(address)
    try:
        rows = run_pool(ray, [{"index": i, "path": str(p)} for i, p in enumerate(paths)], MattingActor,
                        (work, os.getcwd()), actors, gpus)
        outcomes = (Outcome(paths[row["index"]], row["kind"], row["message"], row["seconds"]) for row in rows)
        return follow(outcomes, len(paths), out_dir, report).in_order(paths)
    finally:
        if started:
            ray.shutdown()
