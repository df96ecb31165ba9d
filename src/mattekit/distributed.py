"""Batch matting on a Ray cluster: the local batch's per-image work (``mattekit.batch.ImageMatting``) run by a pool
of Ray Data actors, each of which builds the engine once.

The pipeline: the input paths (``ray.data.from_items``, one block per path up to ``MAX_BLOCKS``) go through
``map_batches`` on a fixed pool of actors; an actor decodes, mattes and writes the outputs of one image at a time
(atomically, with the local names, so the output folder must be one every node sees), and returns its outcome,
which the driver records in a ``BatchReport``, with the progress bar and lines of the local batch. ``mattekit eval
--ray`` runs the benchmark runner's per-image work (``mattekit.evaluation.runner.ImageScoring``) the same way, and
the driver writes the rows in the dataset's order. Ray itself is optional (the ``distributed`` extra) and imported
only here, only when called.

Sizing (``actor_resources``): ``--ray`` alone starts a local Ray instance with this machine's CPUs; by default the
pool has one actor per CPU but one, and the actors together hold at most every CPU but one (an actor gets
``min(1, (cpus - 1) / actors)`` CPUs), so Ray Data's own tasks and the driver always have a CPU: on 2 cores, one
actor holds one CPU, or two actors half a CPU each. The share tells Ray's scheduler how many actors fit; the threads
of an actor's engine follow ``OMP_NUM_THREADS``, which Ray sets to the actor's CPUs (at least 1) unless it is set.

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
import pickle
import re
import socket
import warnings

import numpy as np

from mattekit import errors
from mattekit.batch import BatchReport, ImageMatting, follow, plan
from mattekit.errors import MattekitError, UsageError
from mattekit.extras import require

FEATURE = "matting on Ray (--ray)"
MAX_BLOCKS = 1000  # paths are split into at most this many blocks, the units Ray Data hands to actors
OBJECT_STORE_BYTES = 256 * 2**20  # a local instance's object store: only paths and outcomes travel through it
ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.-]+:\d+)$")


def check_ray(address: str | None) -> None:
    """Import Ray (or the extra's sentence) and refuse an address Ray would not understand (often an input path
    placed right after ``--ray``)."""
    require("distributed", "ray", "ray.data", feature=FEATURE)
    if address is not None and not ADDRESS.match(address):
        raise UsageError(f"--ray takes auto, ray://HOST:PORT or HOST:PORT, not {address!r}; put --ray after the "
                         "inputs.")


def start_ray(address: str | None = None):
    """Ray, connected: to the instance this process already has; else to the cluster at ``address`` (``auto``,
    ``ray://HOST:PORT``, ``HOST:PORT``); else to a new local instance sized to this machine. Returns (the ray
    module, whether this call connected, so the caller disconnects). Ray's own logging stays quiet."""
    check_ray(address)
    import ray

    if ray.is_initialized():
        return ray, False
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if address in (None, "local"):
        ray.init(address="local", num_cpus=len(os.sched_getaffinity(0)), object_store_memory=OBJECT_STORE_BYTES,
                 **quiet)
        return ray, True
    try:
        if address != "auto" and not address.startswith("ray://"):  # Ray would retry a port nobody answers for minutes
            host, _, port = address.rpartition(":")
            socket.create_connection((host, int(port)), timeout=10).close()
        ray.init(address=address, **quiet)
    except OSError as e:  # Ray's ConnectionError included
        raise UsageError(f"no Ray cluster answers at {address} ({e.strerror or str(e).split('. ')[0]}); start one "
                         "with `ray start --head`, or give --ray without an address for a local one.") from None
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


class PoolActor:
    """A Ray Data actor applying ``work`` (the local job's per-item callable) to each item of a batch, in the
    driver's working folder (so relative paths, and the sentences naming them, are the local job's). Results
    travel pickled; a mattekit error escaping ``work`` (an engine that cannot be built) is a ``fatal`` result, and
    every later item of this actor repeats it."""

    def __init__(self, work, cwd: str):
        if os.path.isdir(cwd):
            os.chdir(cwd)
        self.work, self.fatal = work, None

    def __call__(self, batch: dict) -> dict:
        results = []
        for item in batch["item"]:
            if self.fatal is None:
                try:
                    result = ("ok", self.work(str(item)))
                except MattekitError as e:
                    self.fatal = ("fatal", (type(e).__name__, str(e)))
            results.append(pickle.dumps(self.fatal or result))
        return {"index": batch["index"], "result": np.array(results, dtype=object)}


def ray_map(work, items: list[str], address: str | None = None, actors: int | None = None, gpus: float = 0):
    """Yield (index, ``work(items[index])``) in the order they finish, from a fixed pool of Ray actors (see
    ``actor_resources``; ``gpus`` GPUs each) that each hold one copy of ``work``. A fatal error of an actor is
    raised here as the same mattekit error. Ray is started or joined (``start_ray``) when there are items and, if
    this started it, stopped at the end.

    >>> list(ray_map(str.upper, []))  # nothing to do: Ray is not even started
    []
    """
    if gpus < 0:
        raise UsageError(f"--ray-gpus must be 0 or more, not {gpus:g}.")
    if not items:
        return
    ray, started = start_ray(address)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the caller shows its own
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        actors, cpus = actor_resources(ray.cluster_resources().get("CPU", 1), actors)
        with warnings.catch_warnings():  # max_restarts has no named parameter in Ray 2.60; the pin keeps it working
            warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated")
            dataset = ray.data.from_items([{"index": i, "item": item} for i, item in enumerate(items)],
                                          override_num_blocks=min(len(items), MAX_BLOCKS)).map_batches(
                PoolActor, fn_constructor_args=(work, os.getcwd()), batch_size=1, batch_format="numpy",
                num_cpus=cpus, num_gpus=gpus or None, compute=ray.data.ActorPoolStrategy(size=actors), max_restarts=0)
        for row in dataset.iter_rows():
            status, value = pickle.loads(row["result"])
            if status == "fatal":
                raise getattr(errors, value[0], MattekitError)(value[1])
            yield int(row["index"]), value
    finally:
        if started:
            ray.shutdown()


def in_order(results):
    """The values of (index, value) pairs that arrive in any order, yielded in index order as soon as each can be.

    >>> list(in_order([(1, "b"), (2, "c"), (0, "a")]))
    ['a', 'b', 'c']
    """
    waiting, wanted = {}, 0
    for index, value in results:
        waiting[index] = value
        while wanted in waiting:
            yield waiting.pop(wanted)
            wanted += 1


def predict_files_ray(inputs, out_dir, engine, trimap=None, background: str | None = None,
                      max_size: int | None = None, skip_existing: bool = False, max_pixels: int | None = None,
                      debug: bool = False, max_memory: int | None = None, address: str | None = None,
                      actors: int | None = None, gpus: float = 0) -> BatchReport:
    """``mattekit.batch.predict_files`` on Ray: the same outputs, skips and failures, the report in input order.

    ``engine`` is a function that builds the engine (sent to each actor, called there once); ``address`` as in
    ``start_ray``; ``actors`` the pool's size (default: see ``actor_resources``); ``gpus`` each actor's GPUs
    (fractions share a GPU between actors).
    """
    check_ray(address)
    paths, report = plan(inputs, out_dir, trimap)
    if not paths:
        return report
    work = ImageMatting(out_dir, engine, trimap, background, max_size, skip_existing, max_pixels, max_memory, debug)
    outcomes = (outcome for _, outcome in ray_map(work, [str(p) for p in paths], address, actors, gpus))
    return follow(outcomes, len(paths), out_dir, report).in_order(paths)
