"""``mattekit eval --dataset KIND:PATH (--engine NAME | --predictions DIR) ... [--ray [ADDRESS]]``: benchmark into a
report folder, here or on a Ray cluster."""

from __future__ import annotations

from pathlib import Path

from mattekit.cli.engine_flags import add_engine_flags, engine_options
from mattekit.cli.ray_flags import add_ray_flags, ray_options
from mattekit.errors import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score an engine or a folder of predicted alphas on a benchmark",
        description="Writes REPORT/per_image.csv (one row per image), REPORT/summary.json, REPORT/summary.md and "
        "error maps of the worst images. Images already in per_image.csv are skipped, so a stopped run resumes. "
        "With --interaction, a simulated user works with the engine's session over rounds instead, and "
        "REPORT/per_round.csv, the summary per round and REPORT/curve.png (SAD and IoU per round) are written.",
    )
    parser.add_argument("--dataset", required=True, metavar="KIND:PATH",
                        help="am2k, p3m, aim500, alphamatting, comp1k, d646, him2k, synth or folder, and its folder")
    parser.add_argument("--split", help="the dataset's split (default: its test split)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--engine", metavar="NAME", help="the engine to run on every image")
    source.add_argument("--predictions", metavar="DIR", help="a folder of predicted alphas named <image name>.png")
    parser.add_argument("--weights", metavar="W", help="weights file overriding the engine's own (GFM: several "
                        "joined by commas make an EN-median ensemble)")
    add_engine_flags(parser)
    parser.add_argument("--trimap-input", choices=("none", "dataset"), default="none",
                        help="give the engine the dataset's trimap (default: none)")
    parser.add_argument("--protocol", choices=("gfm", "dim"), default="gfm",
                        help="gfm: whole-image metrics (GFM/P3M/AIM); dim: trimap unknown region (DIM MATLAB)")
    parser.add_argument("-o", "--output", default="report", metavar="REPORT", help="report folder (default: report)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="processes scoring images (default 1)")
    parser.add_argument("--worst", type=int, default=5, metavar="K", help="error maps for the K largest SADs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_ray_flags(parser, "the images (predict and score)")
    interactive = parser.add_argument_group("interactive benchmark")
    interactive.add_argument("--interaction", metavar="KIND", help="play this simulated user against the engine's "
                             "session: DFIMat's click (3 a round), scribble (2 a round), box, text or mixed rounds, "
                             "or ritm (one click a round up to 20, NoC@85/90)")
    interactive.add_argument("--rounds", type=int, metavar="N", help="rounds (default 5; ritm 20; box and text 1)")
    interactive.add_argument("--seed", type=int, default=0, metavar="S", help="the simulated user's seed (default 0)")
    interactive.add_argument("--box-jitter", type=int, default=0, metavar="PX",
                             help="push each side of the box out by a random 0..PX pixels (default 0)")
    interactive.add_argument("--aggregate", action="store_true",
                             help="a new session every round, fed the prompts of rounds 1..t together")
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.interaction:
        return run_interactive(args)
    if args.rounds is not None or args.aggregate or args.box_jitter or args.seed:
        raise UsageError("--rounds, --seed, --box-jitter and --aggregate go with --interaction.")
    from mattekit.evaluation.runner import benchmark

    benchmark(
        args.dataset,
        args.output,
        split=args.split,
        engine=args.engine,
        weights=args.weights,
        engine_options=engine_options(args),
        predictions=args.predictions,
        trimap_input=args.trimap_input,
        protocol=args.protocol,
        workers=args.workers,
        worst=args.worst,
        progress=not args.quiet,
        ray=ray_options(args) or None,
    )
    print((Path(args.output) / "summary.md").read_text(), end="")
    return 0


def run_interactive(args) -> int:
    from mattekit.evaluation.interactive_runner import interactive_benchmark

    if args.predictions is not None:
        raise UsageError("--interaction plays a simulated user against an engine; give --engine, not --predictions.")
    if ray_options(args):
        raise UsageError("--ray goes without --interaction; the interactive benchmark runs here.")
    if args.trimap_input != "none" or args.workers != 1:
        raise UsageError("--trimap-input and --workers do not go with --interaction; the user gives the prompts.")
    interactive_benchmark(args.dataset, args.output, args.engine, args.interaction, split=args.split,
                          weights=args.weights, engine_options=engine_options(args), rounds=args.rounds,
                          seed=args.seed, box_jitter=args.box_jitter, aggregate=args.aggregate,
                          protocol=args.protocol, progress=not args.quiet)
    print((Path(args.output) / "summary.md").read_text(), end="")
    return 0
