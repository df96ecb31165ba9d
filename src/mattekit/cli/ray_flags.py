"""The Ray flags that ``mattekit predict`` and ``mattekit eval`` share: ``--ray [ADDRESS]``, ``--ray-actors N``,
``--ray-gpus G``. Parsing them imports nothing of Ray.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(); add_ray_flags(parser, "the images")
    >>> ray_options(parser.parse_args(["--ray", "auto", "--ray-actors", "4"]))
    {'address': 'auto', 'actors': 4, 'gpus': 0}
    >>> ray_options(parser.parse_args([]))
    {}
"""

from __future__ import annotations

from mattekit.errors import UsageError


def add_ray_flags(parser, what: str) -> None:
    """``--ray [ADDRESS]``, ``--ray-actors N`` and ``--ray-gpus G``, shared by predict and eval."""
    ray = parser.add_argument_group("Ray (the distributed extra)")
    ray.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                     help=f"process {what} on Ray actors: alone, a local Ray instance sized to this machine; auto or "
                     "ray://HOST:PORT, an existing cluster (put --ray after the inputs)")
    ray.add_argument("--ray-actors", type=int, metavar="N", help="actors in the pool, each holding one engine "
                     "(default: the cluster's CPUs but one)")
    ray.add_argument("--ray-gpus", type=float, default=0, metavar="G", help="GPUs per actor (default 0)")


def ray_options(args) -> dict:
    """The Ray flags as keyword options of ``mattekit.distributed``; without --ray, none may be given."""
    if args.ray is None:
        if args.ray_actors is not None or args.ray_gpus:
            raise UsageError("--ray-actors and --ray-gpus go with --ray.")
        return {}
    return {"address": args.ray, "actors": args.ray_actors, "gpus": args.ray_gpus}
