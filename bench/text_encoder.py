"""MiniLM-L6 text encoder cost: loading (sha256 check + safetensors read + strict load) and encoding on the CPU.

Loading is timed three times in one process (the first read may come from disk, the later ones from the page
cache); encoding is timed for one short sentence and for a batch of 32, each the median of ``--repeats`` runs.
Wall and CPU time (``time.process_time``, all threads) are both printed.

Run: PYTHONPATH=src .venv/bin/python bench/text_encoder.py [--repeats 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mattekit.models.text_encoder import MiniLM, model_files


def timed(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for attempt in range(3):
        wall, cpu = timed(MiniLM.from_package)
        print(f"load {attempt + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU")
    wall, cpu = timed(model_files)
    print(f"of which finding and sha256-checking the files: {wall:.2f} s wall, {cpu:.2f} s CPU")
    model = MiniLM.from_package()
    sentence = ["the second person from the left"]
    batch = [f"the person number {i} from the left, standing in the back" for i in range(32)]
    with torch.no_grad():
        for name, texts in (("1 sentence", sentence), ("32 sentences", batch)):
            runs = [timed(lambda: model.embed(texts)) for _ in range(args.repeats)]
            print(f"embed {name}: median {statistics.median(r[0] for r in runs) * 1000:.1f} ms wall, "
                  f"{statistics.median(r[1] for r in runs) * 1000:.1f} ms CPU ({args.threads} thread(s))")


if __name__ == "__main__":
    main()
