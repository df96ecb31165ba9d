"""Every value of the reference metric vectors (GFM Python code and DIM MATLAB code) is reproduced.

Reads ../shared/reference/metric-vectors/expected.csv (1,960 rows: 140 image/prediction pairs x 14 metrics) and
scores each pair once per protocol, reading the files with mattekit.io as the benchmark runner does.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import pytest

from mattekit.evaluation.metrics import evaluate
from mattekit.io import load_alpha, load_trimap

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
VECTORS = SHARED / "reference" / "metric-vectors"
EXPECTED = VECTORS / "expected.csv"
REL_TOL, ZERO_TOL = 1e-5, 1e-9


def _load_cases() -> dict[tuple[str, str, str], dict]:
    """(dataset, image, prediction) -> {"trimap": folder name, "values": {(protocol, key): expected value}}."""
    cases: dict[tuple[str, str, str], dict] = defaultdict(lambda: {"values": {}})
    with EXPECTED.open(newline="") as f:
        for row in csv.DictReader(f):
            case = cases[row["dataset"], row["image"], row["prediction"]]
            case["trimap"] = row["trimap"]
            case["values"][row["protocol"], row["metric"].lower().replace("-", "_")] = float(row["value"])
    return dict(cases)


CASES = _load_cases() if EXPECTED.is_file() else {}
PARAMS = [pytest.param(key, id="-".join(key)) for key in CASES] or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"{EXPECTED} is absent (shared reference data not here)"))
]


@lru_cache(maxsize=2)
def _ground_truth(dataset: str, image: str, trimap_folder: str):
    """The gt alpha and trimap of an image, read once for its five predictions (they run one after another)."""
    data = SHARED / "data" / dataset
    gt = load_alpha(data / "alpha" / f"{image}.png")
    return gt, load_trimap(data / trimap_folder / f"{image}.png", gt.shape)


def _mismatches(expected: dict, got: dict[str, float], protocol: str) -> list[str]:
    problems = []
    for (proto, key), value in expected.items():
        if proto != protocol:
            continue
        error = abs(got[key] - value) / abs(value) if value else abs(got[key])
        if error > (REL_TOL if value else ZERO_TOL):
            problems.append(f"{protocol} {key}: expected {value!r}, got {got[key]!r}")
    return problems


@pytest.mark.skipif(not EXPECTED.is_file(), reason=f"{EXPECTED} is absent (shared reference data not here)")
def test_vectors_cover_1960_values_of_both_protocols():
    values = [key for case in CASES.values() for key in case["values"]]
    assert len(CASES) == 140 and len(values) == 1960
    assert {protocol for protocol, _ in values} == {"gfm", "dim"}


@pytest.mark.parametrize("case", PARAMS)
def test_reference_values(case):
    dataset, image, prediction = case
    expected = CASES[case]["values"]
    gt, trimap = _ground_truth(dataset, image, CASES[case]["trimap"])
    pred = load_alpha(VECTORS / "pred" / dataset / f"{image}__{prediction}.png")
    problems = []
    for protocol in ("gfm", "dim"):
        got = evaluate(pred, gt, trimap, protocol=protocol)
        assert set(got) == {key for proto, key in expected if proto == protocol}
        problems += _mismatches(expected, got, protocol)
    assert not problems, "\n".join(problems)
