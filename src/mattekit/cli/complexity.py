"""``mattekit complexity --model SPEC [--size H W] [--runs N] [--device D]``: parameters, MACs and latency."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "complexity",
        help="count parameters and MACs of a model and time it",
        description="Parameters, multiply-accumulates of convolutions and linear layers at an input size, and the "
        "median latency of forward passes. SPEC is a registered model with its arguments (gfm:r34:tt) or "
        "module:callable[:arg...] building an nn.Module.",
    )
    parser.add_argument("--model", required=True, metavar="SPEC", help="the model to measure")
    parser.add_argument("--size", nargs=2, type=int, default=[512, 512], metavar=("H", "W"), help="input size")
    parser.add_argument("--channels", type=int, default=3, help="input channels (default 3)")
    parser.add_argument("--runs", type=int, default=10, help="timed forward passes; 0 skips timing (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed passes before timing (default 2)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    from mattekit.evaluation.complexity import build_model, measure

    report = measure(
        build_model(args.model),
        input_size=tuple(args.size),
        channels=args.channels,
        runs=args.runs,
        warmup=args.warmup,
        device=args.device,
    )
    print(json.dumps({"model": args.model, **report.as_dict()}, indent=2) if args.json else report.summary())
    return 0
