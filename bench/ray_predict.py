"""Images per second of batch matting here (``mattekit.batch.predict_files``) and on a local Ray instance
(``mattekit.distributed.predict_files_ray``, what ``mattekit predict --ray`` runs) with 1 and 2 actors, on the same
photos, the default engine, a fixed maximum size; Ray's start-up is timed apart.

Each run builds its engine(s) as the command does (inside the timed run). Each Ray variant starts its own local
instance (``start_ray``: this machine's CPUs), times ``ray.init`` as the start-up, runs the batch, and shuts it
down. CPU time is that of this process and all its descendants (Ray's GCS, raylet and actors; ``TreeCpu``), with
this process's own apart. Every output is checked to be byte for byte the local run's.

    PYTHONPATH=src .venv/bin/python bench/ray_predict.py [--data ../shared/data] [--photos 12] [--max-size 512]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from datetime import date
from functools import partial
from pathlib import Path

from mattekit.batch import predict_files
from mattekit.distributed import predict_files_ray, start_ray
from mattekit.engines import load_engine


class TreeCpu:
    """CPU seconds (user + system) of this process and every process below it, Ray's actors included: a thread
    reads ``/proc`` every ``every`` seconds and keeps each process's last value (a process that ends between two
    reads loses at most ``every`` seconds)."""

    def __init__(self, every: float = 0.2):
        self.every, self.seen, self.stop = every, {}, threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self._read()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values()) / os.sysconf("SC_CLK_TCK")

    def _poll(self) -> None:
        while not self.stop.wait(self.every):
            self._read()

    def _read(self) -> None:
        parent, ticks = {}, {}
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # not a process, or it ended
            pid = int(entry)
            parent[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
        for pid, value in ticks.items():
            ancestor = pid
            while ancestor not in (0, 1, os.getpid()) and ancestor in parent:
                ancestor = parent[ancestor]
            if ancestor == os.getpid():
                self.seen[pid] = max(self.seen.get(pid, 0), value)


def photos(data: Path, count: int) -> list[Path]:
    """The first ``count`` real photos: alphamatting, then portraits-pseudo and animals-pseudo."""
    found = [p for kind in ("alphamatting", "portraits-pseudo", "animals-pseudo")
             for p in sorted((data / kind / "image").iterdir())]
    return found[:count]


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def measure(name: str, inputs: list[Path], out: Path, max_size: int, actors: int | None) -> dict:
    engine = partial(load_engine, "default")
    own = time.process_time()
    with TreeCpu() as cpu:
        start, startup = time.perf_counter(), 0.0
        if actors is None:
            report = predict_files(inputs, out, engine, max_size=max_size)
            run = time.perf_counter() - start
        else:
            ray, _ = start_ray(None)
            startup = time.perf_counter() - start
            try:
                report = predict_files_ray(inputs, out, engine, max_size=max_size, actors=actors)
            finally:
                run = time.perf_counter() - start - startup
                ray.shutdown()
    assert not report.failed, report.failed
    return {"name": name, "images": len(report.done), "startup": startup, "run": run, "cpu": cpu.seconds,
            "driver_cpu": time.process_time() - own}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--max-size", type=int, default=512)
    args = parser.parse_args()
    inputs = photos(args.data, args.photos)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, actors in (("local", None), ("ray, 1 actor", 1), ("ray, 2 actors", 2)):
            results.append(measure(name, inputs, Path(tmp) / name, args.max_size, actors))
            assert files(Path(tmp) / name) == files(Path(tmp) / "local"), f"{name}: outputs differ from local"
    print(f"{date.today()}, {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, "
          f"{len(inputs)} photos at --max-size {args.max_size}, default engine; outputs identical in every run\n")
    print("| run | Ray start-up (s) | batch (s) | images/s (batch) | CPU, start-up + batch, all processes (s) | CPU, driver (s) |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['name']} | {r['startup']:.1f} | {r['run']:.1f} | {r['images'] / r['run']:.3f} | {r['cpu']:.1f} "
              f"| {r['driver_cpu']:.1f} |")


if __name__ == "__main__":
    main()
