"""``mattekit metrics PRED GT [--trimap T] [--protocol gfm|dim] [--json]``: the matting metrics of one pair."""

from __future__ import annotations

import json
import math


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "metrics",
        help="score one predicted alpha against its ground truth",
        description="SAD, MSE, MAD, Grad and Conn (and the trimap-region numbers when a trimap is given) of PRED "
        "against GT. gfm: the official GFM/P3M/AIM whole-image evaluation; dim: the DIM MATLAB reference on the "
        "trimap's unknown pixels (needs --trimap). See docs/metrics.md.",
    )
    parser.add_argument("pred", metavar="PRED", help="predicted alpha (an image file)")
    parser.add_argument("gt", metavar="GT", help="ground-truth alpha (an image file)")
    parser.add_argument("--trimap", metavar="T", help="trimap with values 0/128/255")
    parser.add_argument("--protocol", choices=("gfm", "dim"), default="gfm", help="reference protocol (default gfm)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (NaN as null)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from mattekit.evaluation.metrics import evaluate_files

    scores = evaluate_files(args.pred, args.gt, args.trimap, protocol=args.protocol)
    if args.json:
        print(json.dumps({key: None if math.isnan(value) else value for key, value in scores.items()}))
    else:
        print("\n".join(f"{key:<9} {value:.6g}" for key, value in scores.items()))
    return 0
