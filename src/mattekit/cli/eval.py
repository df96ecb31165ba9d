"""``mattekit eval --dataset KIND:PATH (--engine NAME | --predictions DIR) ...``: benchmark into a report folder."""

from __future__ import annotations

from pathlib import Path

from mattekit.cli.engine_flags import add_engine_flags, engine_options


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score an engine or a folder of predicted alphas on a benchmark",
        description="Writes REPORT/per_image.csv (one row per image), REPORT/summary.json, REPORT/summary.md and "
        "error maps of the worst images. Images already in per_image.csv are skipped, so a stopped run resumes.",
    )
    parser.add_argument("--dataset", required=True, metavar="KIND:PATH",
                        help="am2k, p3m, aim500, alphamatting, comp1k, d646, him2k or folder, and its folder")
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
    parser.set_defaults(run=run)


def run(args) -> int:
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
    )
    print((Path(args.output) / "summary.md").read_text(), end="")
    return 0
