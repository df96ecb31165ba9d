"""CPU latency of GFM-TT(r34) at 800x800 against the compute floor, with ONNX Runtime's figure beside it.

The floor is 2 x MACs (131.8 G multiply-accumulates, counted by hooks) divided by the fp32 matrix-multiply rate
measured in the same run (``torch.mm`` of 2048x2048 matrices, best of 5, once per round: the median of the
rounds). PyTorch runs in fp32 under ``inference_mode``, in the default and in channels-last memory layout, and as
the gfm engine runs it (batch norm folded into the convolutions, channels-last); ONNX Runtime runs as the gfm
engine's ``runtime="onnx"`` does (``mattekit.engines.gfm_onnx``: the folded model exported for the size, all graph
optimisations on), and the one-off cost of exporting the size and building its session is printed. Wall and CPU
seconds (``time.process_time``, all threads) are reported. As in the gfm engine, denormal floats are flushed to
zero and freed memory is kept for reuse (``mattekit.memory.keep_freed_memory``; ``--glibc-default`` leaves malloc
as it is, to measure what that saves). The variants are timed in turn, round robin, so that a change in the
machine's load touches all of them alike. Weights are random: timing does not depend on them.

    .venv/bin/python bench/gfm_latency.py [--runs 5] [--size 800] [--glibc-default]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time

import torch

from mattekit.engines.gfm_onnx import OnnxPasses
from mattekit.evaluation.complexity import count_macs
from mattekit.memory import keep_freed_memory
from mattekit.models.fuse import fold_batch_norm
from mattekit.models.gfm import GFM


def matmul_gflops(a: torch.Tensor, b: torch.Tensor, repeats: int = 5) -> float:
    """fp32 GFLOP/s of ``a @ b`` (square matrices), best of ``repeats``."""
    best = min(timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * a.shape[0] ** 3 / best / 1e9


def timed(fn) -> float:
    tick = time.perf_counter()
    fn()
    return time.perf_counter() - tick


def cpu_timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads) of one call of ``fn``."""
    cpu = time.process_time()
    wall = timed(fn)
    return wall, time.process_time() - cpu


def page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=800)
    parser.add_argument("--glibc-default", action="store_true", help="do not keep freed memory for reuse")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_flush_denormal(True)  # as the gfm engine does
    kept = False if args.glibc_default else keep_freed_memory()
    model = GFM("r34", "tt").eval()
    x = torch.rand(1, 3, args.size, args.size) * 255
    macs = sum(count_macs(model, x).values())
    cl_model = GFM("r34", "tt").eval().to(memory_format=torch.channels_last)
    cl_x = x.contiguous(memory_format=torch.channels_last)
    folded = fold_batch_norm(GFM("r34", "tt").eval()).to(memory_format=torch.channels_last)
    with tempfile.TemporaryDirectory() as tmp:  # the gfm engine's runtime="onnx" path, its cache in tmp
        passes = OnnxPasses(fold_batch_norm(GFM("r34", "tt").eval()), folder=tmp)
        feed = x.numpy()
        export = cpu_timed(lambda: passes.graph((args.size, args.size)))
        first = cpu_timed(lambda: passes(feed))  # builds the session, then one pass
    variants = {"PyTorch eager fp32": lambda: model(x),
                "PyTorch channels-last fp32": lambda: cl_model(cl_x),
                "PyTorch BN folded + channels-last fp32 (the gfm engine)": lambda: folded(cl_x),
                "ONNX Runtime fp32 (the gfm engine, runtime=onnx)": lambda: passes(feed)}
    times = {name: [] for name in variants}
    cpu_times = {name: [] for name in variants}
    faults = {name: [] for name in variants}
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    rates = []
    load = os.getloadavg()
    with torch.inference_mode():
        for fn in variants.values():
            fn()  # warm-up
        for _ in range(args.runs):  # round robin, so that a change of load touches every variant alike
            rates.append(matmul_gflops(a, b))
            for name, fn in variants.items():
                before = page_faults()
                wall, cpu = cpu_timed(fn)
                times[name].append(wall)
                cpu_times[name].append(cpu)
                faults[name].append(page_faults() - before)
    rate = statistics.median(rates)
    floor = 2 * macs / (rate * 1e9)
    rows = list(times.items())
    print(f"GFM-TT(r34) {args.size}x{args.size}: {macs / 1e9:.1f} GMACs; fp32 matmul {rate:.1f} GFLOP/s "
          f"({min(rates):.1f}-{max(rates):.1f}) on "
          f"{torch.get_num_threads()} threads (cpu count {os.cpu_count()}); floor {floor:.2f} s; "
          f"freed memory kept: {kept}")
    print(f"ONNX export of the size: {export[0]:.2f} s ({export[1]:.2f} s CPU); session build + first pass: "
          f"{first[0]:.2f} s ({first[1]:.2f} s CPU)")
    print(f"load average before: {load[0]:.1f}, after: {os.getloadavg()[0]:.1f}")
    print("| runtime | median s | best s | median / floor | median CPU s | page faults per pass (median) |")
    print("|---|---|---|---|---|---|")
    for name, times in rows:
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} | "
              f"{statistics.median(times) / floor:.2f}x | {statistics.median(cpu_times[name]):.2f} | "
              f"{statistics.median(faults[name]):.0f} |")


if __name__ == "__main__":
    main()
