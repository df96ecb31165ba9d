"""``mattekit predict INPUT... [-o OUT] [--engine NAME] [--trimap PATH|DIR] ... [--ray [ADDRESS]]``: matte files and
folders, here or on a Ray cluster."""

from __future__ import annotations

import sys
from functools import partial

from mattekit.batch import predict_files
from mattekit.cli.engine_flags import add_engine_flags, engine_options
from mattekit.cli.ray_flags import add_ray_flags, ray_options
from mattekit.budget import GIB
from mattekit.engines import ENGINES, check_options, load_engine
from mattekit.errors import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="matte images and write alpha, cut-out and composite")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    parser.add_argument("-o", "--output", default="mattekit-output", metavar="OUT", help="output folder")
    parser.add_argument("--engine", default="default", choices=sorted(ENGINES))
    parser.add_argument("--trimap", metavar="PATH|DIR", help="a trimap file, or a folder of trimaps named like "
                        "the images (0 background, 128 unknown, 255 foreground)")
    parser.add_argument("--weights", action="append", metavar="[NAME=]PATH",
                        help="local weights overriding the engine's source (default engine: modnet=PATH, "
                        "u2netp=PATH; may be repeated)")
    parser.add_argument("--background", metavar="COLOR|IMAGE", help="also write a composite over this colour "
                        "(name, #rrggbb or r,g,b) or image")
    parser.add_argument("--max-size", type=int, metavar="N", help="shrink images so the long side is at most N")
    parser.add_argument("--max-pixels", type=int, metavar="N", help="refuse images over N pixels "
                        "(default 100 million)")
    parser.add_argument("--max-memory", type=float, metavar="GIB", help="refuse images whose matting would need "
                        "more than GIB gibibytes (default: the memory available)")
    parser.add_argument("--skip-existing", action="store_true", help="skip images whose outputs exist")
    add_engine_flags(parser)
    add_ray_flags(parser, "the images")
    parser.set_defaults(run=run)


def parse_weights(values: list[str] | None):
    """``--weights`` values as one path, or as a dict of NAME=PATH pairs."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    if not all("=" in v for v in values):
        raise UsageError("when --weights is repeated, each must be NAME=PATH.")
    return dict(v.split("=", 1) for v in values)


def run(args) -> int:
    """Check the arguments, then matte; the engine is built (and its kernels compiled) only once an input decodes."""
    weights, options = parse_weights(args.weights), engine_options(args)
    check_options(args.engine, options)
    if args.max_memory is not None and args.max_memory <= 0:
        raise UsageError(f"--max-memory must be a positive number of GiB, not {args.max_memory:g}.")
    on_ray = ray_options(args)
    if on_ray:
        from mattekit.distributed import predict_files_ray as run_batch  # imports Ray: only when asked for
    else:
        run_batch = predict_files
    report = run_batch(args.inputs, args.output, partial(load_engine, args.engine, weights=weights, **options),
                       trimap=args.trimap, background=args.background, max_size=args.max_size,
                       skip_existing=args.skip_existing, max_pixels=args.max_pixels, debug=args.debug,
                       max_memory=None if args.max_memory is None else int(args.max_memory * GIB), **on_ray)
    total = len(report.done) + len(report.skipped) + len(report.failed)
    print(f"{len(report.done)} of {total} images matted into {args.output}"
          + (f", {len(report.skipped)} skipped" if report.skipped else "") + ".")
    for path, reason in report.skipped.items():
        print(f"skipped: {path} ({reason})", file=sys.stderr)
    for message in report.failed.values():
        print(f"failed: {message}", file=sys.stderr)
    return 1 if report.failed else 0
