"""Write constraints.txt: the exact installed version of every package that mattekit and all its extras pull.

Run it with the environment CI tests (``make constraints`` runs it with ``.venv``); it walks the requirements of
``pyproject.toml`` (core, every extra, transitively, markers evaluated for this interpreter) through the installed
distributions and pins each one it reaches, so ``pip install -c constraints.txt -e '.[dev]'`` reinstalls exactly
that environment. mattekit itself is not pinned.

Example:
    $ .venv/bin/python tools/constraints.py > constraints.txt
"""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
HEADER = """\
# The exact versions `make` and CI install (`pip install -c constraints.txt -e '.[dev]'`): every package that
# mattekit and its extras pull, transitively. pyproject.toml holds the ranges a user's install accepts; the test
# tests/test_packaging.py checks that these pins satisfy them. Regenerate with `make constraints`.
"""


def wanted(project: dict) -> list[Requirement]:
    """The requirements of the core and of every extra, with mattekit's references to its own extras dropped."""
    name = canonicalize_name(project["name"])
    texts = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return [r for r in map(Requirement, texts) if canonicalize_name(r.name) != name]


def pins(roots: list[Requirement]) -> dict[str, str]:
    """{name: installed version} of ``roots`` and everything they require in this environment."""
    found: dict[str, str] = {}
    seen: set[tuple[str, frozenset]] = set()
    todo = list(roots)
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            sys.exit(f"{req.name} is required but not installed in {sys.prefix}; install '.[dev]' first.")
        found[key[0]] = dist.version.split("+")[0]  # torch 2.13.0+cpu: the local build comes from the index
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in req.extras or {""}):
                todo.append(sub)
    return found


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    print(HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(pins(wanted(project)).items())), end="")


if __name__ == "__main__":
    main()
