"""The engine options that ``mattekit predict`` and ``mattekit eval`` share: GFM's backbone, RoSTa, test strategy,
its ratios, the device, the precision and the runtime. An option the chosen engine does not have is a usage error.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(); add_engine_flags(parser)
    >>> engine_options(parser.parse_args(["--strategy", "hybrid", "--d1", "4"]))
    {'strategy': 'hybrid', 'd1': 4.0}
"""

from __future__ import annotations

FLAGS = {
    "backbone": (str, "GFM: backbone r34, r34_2b, d121, r101 or efficientnet_lite0 (read from the checkpoint when "
                      "not given)"),
    "rosta": (str, "GFM: RoSTa form tt, ft, bt or rim (read from the checkpoint when not given)"),
    "strategy": (str, "GFM: test strategy resize, hybrid or rim (default hybrid; rim for RIM checkpoints)"),
    "ratio": (float, "GFM resize strategy: the network sees the image scaled by this ratio (default 0.5)"),
    "d1": (float, "GFM hybrid strategy: glance pass at 1/d1 of the image (default 3)"),
    "d2": (float, "GFM hybrid strategy: focus pass at 1/d2 of the image (default 2; d1 >= d2)"),
    "device": (str, "GFM: cpu, cuda, cuda:N, mps or auto (default auto)"),
    "precision": (str, "GFM: auto (bf16/fp16 autocast on CUDA, fp32 elsewhere), fp32, bf16 or fp16"),
    "runtime": (str, "GFM: auto (= torch), torch, or onnx (ONNX Runtime on CPU; a graph per input size, exported "
                     "on first use and cached)"),
}


def add_engine_flags(parser) -> None:
    """Add one ``--NAME`` flag to ``parser`` for each of ``FLAGS``."""
    for name, (kind, text) in FLAGS.items():
        parser.add_argument(f"--{name}", type=kind, metavar=name.upper(), help=text)


def engine_options(args) -> dict:
    """The engine flags given on the command line, as keyword options for ``load_engine``."""
    return {name: getattr(args, name) for name in FLAGS if getattr(args, name) is not None}
