"""CPU latency of the dfimat engine per Session round with the image features cached, on a 1080p image.

Random weights of the preset's size (latency does not depend on the values) are written to a temporary DFIMat file;
a Session on a 1920x1080 image then runs ``prepare`` once (ISCN's image encoder) and timed rounds of 3 clicks
(ISCN's CRM, sampler and decoder, then MRN at the working size; colours not estimated). ``--max-size`` is the
engine's working size (longer side).

Run: PYTHONPATH=src python bench/dfimat_latency.py [--preset dfimat|dfimat-s] [--max-size 1920] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mattekit.engines.dfimat import DFIMatEngine
from mattekit.engines.dfimat_weights import write_dfimat
from mattekit.interactive import Click, Session
from mattekit.models.dfimat import ISCN, MRN, iscn_settings, mrn_settings


def timed(call):
    tick, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - tick, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="dfimat")
    parser.add_argument("--max-size", type=int, default=1920)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    image = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.safetensors"
        write_dfimat(path, ISCN(iscn_settings(args.preset)), MRN(mrn_settings(args.preset)))
        engine = DFIMatEngine(str(path), max_size=args.max_size, device="cpu", foreground=False)
    session, prepare_s, prepare_cpu = timed(lambda: Session(image, engine))
    walls, cpus = [], []
    for r in range(args.rounds):
        clicks = [Click(900 + 10 * r, 500), Click(950, 700 - 10 * r), Click(1500, 300 + 10 * r, positive=False)]
        _, wall, cpu = timed(lambda: session.round(clicks))
        walls.append(wall)
        cpus.append(cpu)
    working = list(session.state.canvas.tensor.shape[-2:])
    print(json.dumps({"preset": args.preset, "image": "1920x1080", "working": working,
                      "threads": torch.get_num_threads(), "prepare_s": prepare_s, "prepare_cpu_s": prepare_cpu,
                      "round_s": walls, "round_cpu_s": cpus, "round_median_s": statistics.median(walls)}, indent=1))


if __name__ == "__main__":
    main()
