"""pyproject.toml, constraints.txt and the extras agree: every pin satisfies its range, every extra a feature names
exists, every file of the package that is not code is declared as package data (so it travels in the wheel)."""

import fnmatch
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mattekit.extras import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements() -> list[tuple[str, Requirement]]:
    """(where, requirement) of the core and of every extra, without mattekit's references to its own extras."""
    project = PROJECT["project"]
    found = [("dependencies", Requirement(text)) for text in project["dependencies"]]
    found += [(f"extra {extra}", Requirement(text)) for extra, texts in project["optional-dependencies"].items()
              for text in texts]
    return [(where, req) for where, req in found if canonicalize_name(req.name) != "mattekit"]


def pins() -> dict[str, str]:
    """{canonical name: version} of constraints.txt, whose every line is a comment or ``name==version``."""
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==" and not req.extras and req.marker is None, line
            found[canonicalize_name(req.name)] = spec.version
    return found


def test_every_pin_satisfies_its_range():
    pinned = pins()
    for where, req in requirements():
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} ({where}) has no pin in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), \
            f"constraints.txt pins {name}=={pinned[name]}, outside {req} ({where})"


def test_ranges_are_ranges_and_the_core_is_permissive():
    for where, req in requirements():
        assert all(spec.operator in (">=", "<", "!=") for spec in req.specifier), f"{where}: {req} is not a range"
        assert any(spec.operator == ">=" for spec in req.specifier), f"{where}: {req} has no lower bound"
    core = {canonicalize_name(req.name) for where, req in requirements() if where == "dependencies"}
    assert "bm3d" not in core  # non-commercial licence: the rssn extra only


def test_extras_that_features_name_exist_and_all_holds_them():
    extras = PROJECT["project"]["optional-dependencies"]
    assert set(EXTRAS) <= set(extras)
    (everything,) = extras["all"]
    assert set(Requirement(everything).extras) == set(EXTRAS)
    assert "mattekit[all]" in extras["dev"]


def test_package_data_is_declared():
    declared = PROJECT["tool"]["setuptools"]["package-data"]
    src = ROOT / "src"
    for path in (src / "mattekit").rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        package = ".".join(path.parent.relative_to(src).parts)
        owners = {p: globs for p, globs in declared.items() if package == p or package.startswith(p + ".")}
        assert any(fnmatch.fnmatch(str(path.relative_to(src.joinpath(*p.split(".")))), g)
                   for p, globs in owners.items() for g in globs), f"{path.relative_to(ROOT)} is not package data"
