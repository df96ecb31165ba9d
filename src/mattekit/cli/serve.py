"""``mattekit serve [--host H] [--port P] [--engine interactive] [--weights W] ...``: the HTTP API and the page.

The engine is built and warmed up (one round on a small made-up image, so its models are loaded) before the
server listens; every session shares it. ``--workers`` threads run the matting; sessions live in this process.
"""

from __future__ import annotations

import os

import numpy as np

from mattekit.cli.predict import parse_weights
from mattekit.engines import ENGINES, load_engine
from mattekit.errors import UsageError
from mattekit.extras import require
from mattekit.interactive import Box, Session
from mattekit.interactive.session import check_engine

WARM_UP_SIZE = 96  # pixels a side


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="serve the matting API and the interactive page over HTTP")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--engine", default="interactive", choices=sorted(ENGINES),
                        help="an engine that serves sessions (default interactive)")
    parser.add_argument("--weights", action="append", metavar="[NAME=]PATH", help="local weights for the engine")
    parser.add_argument("--max-upload-mb", type=float, default=25, metavar="MB",
                        help="refuse request bodies over this many MB with 413 (default 25)")
    parser.add_argument("--max-pixels", type=int, default=25_000_000, metavar="N",
                        help="refuse images over N pixels with 400 (default 25 million)")
    parser.add_argument("--max-sessions", type=int, default=32, metavar="N",
                        help="sessions kept at once; past it the one unused longest is evicted (default 32)")
    parser.add_argument("--session-ttl", type=float, default=900, metavar="SECONDS",
                        help="evict a session this long after its last use (default 900)")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), metavar="N",
                        help="matting threads (default: CPU cores, at most 4)")
    parser.add_argument("--max-queue", type=int, default=16, metavar="N",
                        help="matting jobs that may wait for a thread; past it 503 with Retry-After (default 16)")
    parser.set_defaults(run=run)


def settings_from(args):
    """The server ``Settings`` of the parsed flags; UsageError for a limit that is not positive."""
    from mattekit.server import Settings

    for flag in ("max_upload_mb", "max_pixels", "max_sessions", "session_ttl", "workers"):
        if getattr(args, flag) <= 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be positive, not {getattr(args, flag):g}.")
    if args.max_queue < 0:
        raise UsageError(f"--max-queue must be 0 or more, not {args.max_queue}.")
    return Settings(max_upload_mb=args.max_upload_mb, max_pixels=args.max_pixels, max_sessions=args.max_sessions,
                    session_ttl=args.session_ttl, workers=args.workers, max_queue=args.max_queue)


def warm_up(engine) -> None:
    """One round on a small made-up image (a bright square on a dark ground), so the first client waits less."""
    image = np.full((WARM_UP_SIZE, WARM_UP_SIZE, 3), 40, np.uint8)
    image[24:72, 32:64] = 220
    Session(image, engine).round([Box(16, 8, 80, 88)])


def run(args) -> int:
    uvicorn, _, _ = require("serve", "uvicorn", "fastapi", "python_multipart", feature="mattekit serve")
    from mattekit.server import create_app

    settings = settings_from(args)
    engine = load_engine(args.engine, weights=parse_weights(args.weights))
    check_engine(engine)
    warm_up(engine)
    print(f"mattekit: serving the {args.engine} engine on http://{args.host}:{args.port}/ "
          f"({settings.workers} matting threads, up to {settings.max_sessions} sessions).", flush=True)
    uvicorn.run(create_app(engine, settings), host=args.host, port=args.port, log_level="info")
    return 0
