"""``mattekit demo [-o OUT]``: matte two real photos with the default engine and say where the results are."""

from __future__ import annotations

from mattekit.demo import run_demo


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="matte two sample photos (a cat, a portrait) with the default engine")
    parser.add_argument("-o", "--output", default="demo-output", metavar="OUT", help="output folder")
    parser.set_defaults(run=lambda args: run_demo(args.output) and 0)
