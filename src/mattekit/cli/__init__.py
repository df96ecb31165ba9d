"""The ``mattekit`` command: argument parsing only; each verb lives in a module of this package.

Each verb module has ``register(subparsers)``, which adds its parser and sets ``run`` to a function taking the
parsed arguments and returning an exit status. Errors a user can cause print one sentence (no traceback unless
``--debug``) and exit 1, or 2 for usage errors.

Example:
    >>> main(["models", "list"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mattekit.errors import MattekitError

VERBS = ("predict", "interact", "serve", "demo", "models", "eval", "complexity", "compose", "denoise", "backgrounds",
         "export_onnx", "metrics", "train", "synthesize")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mattekit", description="Image matting: alpha mattes from photos.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for verb in VERBS:
        importlib.import_module(f"mattekit.cli.{verb}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except MattekitError as e:
        if args.debug:
            raise
        print(f"mattekit: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("mattekit: interrupted.", file=sys.stderr)
        return 130
