#!/usr/bin/env bash
# `make dist-check`: build the sdist and the wheel, then use the wheel as a user would, away from the repository.
#  1. `python -m build` (its build backend pinned by constraints.txt); every tracked file of src/mattekit is in the
#     wheel (code and package data: the server's page).
#  2. A fresh venv (no system site packages) gets torch and the wheel under constraints.txt; from a folder outside
#     the repository, with an empty weights cache, `mattekit models list` and `mattekit demo` run and write their
#     outputs.
#  3. The issue's "done when": a fresh venv that already has the newest numpy on the index installs the wheel
#     as a user would (no constraints file), no package it had changes version, and `mattekit demo` runs there.
# PYTHON makes the venvs (default python3.11); BUILD_PYTHON has `build` (default .venv/bin/python).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3.11}
build_python=${BUILD_PYTHON:-$repo/.venv/bin/python}
constraints=$repo/constraints.txt
work=$(mktemp -d /tmp/mattekit-dist-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH MATTEKIT_CACHE
start=$SECONDS
say() { echo "dist-check ($((SECONDS - start)) s): $*"; }
fail() { echo "dist-check: FAILED: $*" >&2; exit 1; }
quietly() {  # run a command, showing its output only when it fails
    "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; fail "$*"; }
}

say "building the sdist and the wheel"
PIP_CONSTRAINT=$constraints quietly "$build_python" -m build --outdir "$work/dist" "$repo"
wheel=$(ls "$work"/dist/mattekit-*.whl)
ls "$work"/dist/mattekit-*.tar.gz >/dev/null || fail "no sdist was built"
say "$(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB; sdist $(du -k "$work"/dist/*.tar.gz | cut -f1) KiB"
git -C "$repo" ls-files src/mattekit | sed 's|^src/||' | sort >"$work/tracked"
"$build_python" -c "import sys, zipfile; print('\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))" "$wheel" \
    | sort >"$work/packed"
missing=$(comm -23 "$work/tracked" "$work/packed")
[ -z "$missing" ] || fail "tracked files missing from the wheel: $missing"
say "the wheel holds all $(wc -l <"$work/tracked") tracked files of src/mattekit, package data included"

say "installing the wheel into a fresh venv under constraints.txt"
"$python" -m venv "$work/venv"
quietly "$work/venv/bin/pip" install -c "$constraints" torch==2.13.0
quietly "$work/venv/bin/pip" install -c "$constraints" "$wheel"
mkdir "$work/elsewhere" && cd "$work/elsewhere"
where=$("$work/venv/bin/python" -c "import mattekit; print(mattekit.__file__)")
[[ $where == "$work/venv/"* ]] || fail "mattekit was imported from $where, not from the venv"
export MATTEKIT_CACHE=$work/cache  # empty: the weights come from their pinned packages, not from the repository
"$work/venv/bin/mattekit" models list >"$work/models.txt" || fail "mattekit models list"
grep -q modnet "$work/models.txt" || fail "mattekit models list does not name modnet"
demo() {  # mattekit demo of venv $1, run here, into $work/$1-demo; its six outputs must be there
    "$work/$1/bin/mattekit" demo -o "$work/$1-demo" >"$work/demo.log" || { cat "$work/demo.log"; fail "mattekit demo"; }
    for stem in chelsea astronaut; do
        for kind in alpha cutout composite; do
            [ -s "$work/$1-demo/$stem.$kind.png" ] || fail "mattekit demo wrote no $stem.$kind.png"
        done
    done
}
demo venv
say "mattekit models list and mattekit demo (6 outputs) ran from $work/elsewhere"

say "a fresh venv with the newest numpy, then the wheel without constraints.txt, as a user installs it"
"$python" -m venv "$work/recent"
quietly "$work/recent/bin/pip" install numpy torch==2.13.0  # what the user had: the newest numpy, a CPU torch
"$work/recent/bin/pip" freeze | sort >"$work/before.txt"
quietly "$work/recent/bin/pip" install "$wheel"
grep "^Successfully installed" "$work/last.log" || true
"$work/recent/bin/pip" freeze | sort >"$work/after.txt"
changed=$(comm -23 "$work/before.txt" "$work/after.txt")
[ -z "$changed" ] || fail "installing the wheel changed what the venv had: $changed (now: $(comm -13 \
    "$work/before.txt" "$work/after.txt" | tr '\n' ' '))"
demo recent
say "kept $(grep -i '^numpy==' "$work/before.txt") and every other package the venv had; mattekit demo ran there"
say "passed"
