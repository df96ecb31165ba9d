"""``mattekit models list`` and ``mattekit models pull NAME``."""

from __future__ import annotations

from mattekit import weights


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list or fetch the named weight sources")
    verbs = parser.add_subparsers(dest="models_verb", required=True, metavar="ACTION")
    verbs.add_parser("list", help="list weight sources and whether each is cached").set_defaults(run=run_list)
    pull = verbs.add_parser("pull", help="fetch weights into the cache and check their sha256")
    pull.add_argument("names", nargs="+", metavar="NAME")
    pull.set_defaults(run=run_pull)


def run_list(args) -> int:
    for source in weights.SOURCES.values():
        path = weights.cached_path(source)
        state = "cached" if path.is_file() else "not cached"
        print(f"{source.name:30} {state:11} {source.license:12} {source.description}\n{'':30} from {source.origin}")
    return 0


def run_pull(args) -> int:
    for name in args.names:
        print(f"{name}: {weights.resolve(name)}")
    return 0
