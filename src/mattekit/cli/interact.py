"""``mattekit interact IMAGE --prompts ROUNDS.json -o OUT``: interactive matting from rounds of prompts in a file.

ROUNDS.json is a JSON list of rounds, each a list of prompt objects (``mattekit.interactive.prompts.from_dict``):
``[[{"type": "box", "x0": 5, "y0": 5, "x1": 90, "y1": 120}], [{"type": "click", "x": 40, "y": 60,
"positive": false}]]``. Every round is checked against the image before anything runs; the outputs of the last
round (``--every-round``: of every round) are written when all rounds are done.
"""

from __future__ import annotations

import json
from pathlib import Path

from mattekit import io
from mattekit.batch import write_outputs
from mattekit.cli.predict import parse_weights
from mattekit.engines import ENGINES
from mattekit.errors import InputError, UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("interact", help="matte an image guided by rounds of clicks, scribbles, boxes "
                                   "and text", description=__doc__.split("\n\n", 1)[1])
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("--prompts", required=True, metavar="ROUNDS.json", help="a JSON list of rounds of prompts")
    parser.add_argument("-o", "--output", default="mattekit-output", metavar="OUT", help="output folder")
    parser.add_argument("--engine", default="interactive", choices=sorted(ENGINES))
    parser.add_argument("--weights", action="append", metavar="[NAME=]PATH", help="local weights for the engine")
    parser.add_argument("--instance", type=int, default=0, metavar="K", help="the instance the rounds refine")
    parser.add_argument("--every-round", action="store_true", help="write the outputs of every round, not only "
                        "the last (<stem>.roundN.alpha.png, ...)")
    parser.add_argument("--background", metavar="COLOR|IMAGE", help="also write a composite over this")
    parser.set_defaults(run=run)


def read_rounds(path: str, shape: tuple[int, int]) -> list[list]:
    """The rounds of ``path``, each prompt checked against an image of ``shape``; errors name round and prompt."""
    from mattekit.interactive.prompts import check_inside, parse_rounds

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path} cannot be read ({e}).") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}).") from None
    rounds = parse_rounds(data)
    for r, prompts in enumerate(rounds, 1):
        for i, prompt in enumerate(prompts, 1):
            try:
                check_inside(prompt, shape)
            except UsageError as e:
                raise UsageError(f"round {r}, prompt {i}: {e}") from None
    return rounds


def run(args) -> int:
    from mattekit.interactive import Session
    from mattekit.interactive.conflict import save_conflict

    image = io.load_image(args.image)
    rounds = read_rounds(args.prompts, image.shape[:2])
    options = {"weights": parse_weights(args.weights)} if args.weights else {}
    session = Session(image, args.engine, **options)
    results = []
    for prompts in rounds:
        matte = session.round(prompts, instance=args.instance)
        results.append((matte, session.conflict))
    out, stem = Path(args.output), Path(args.image).stem
    chosen = enumerate(results, 1) if args.every_round else [(len(results), results[-1])]
    for number, (matte, conflict) in chosen:
        name = f"{stem}.round{number}" if args.every_round else stem
        write_outputs(out, name, image, matte, args.background)
        save_conflict(out / f"{name}.conflict.png", conflict)
    print(f"{len(rounds)} round(s) run on {args.image}; outputs in {out}.")
    return 0
