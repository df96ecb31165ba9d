"""The compiled metric kernels against the straightforward computations they replace, on random inputs."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage import measure

from mattekit import kernels
from mattekit.evaluation import gfm_protocol
from mattekit.evaluation.connectivity import first_exit_levels
from mattekit.evaluation.gradient import gfm_gradient_error

SRC = Path(__file__).resolve().parents[1] / "src"


def _labelled_levels(reached: np.ndarray, steps: int, skip_empty: bool, column_major: bool) -> np.ndarray:
    """The level sweep as the references run it: one labelling of the whole image per threshold."""
    level = np.full(reached.shape, -1)
    for step in range(1, steps + 1):
        labels = measure.label(reached >= step, connectivity=1)  # numbered in row-major order of first pixels
        if labels.max() == 0:
            if not skip_empty:  # the MATLAB code: Ω is empty, every open pixel gets t_{i-1}
                level[level == -1] = step - 1
            continue
        areas = np.bincount(labels.ravel())[1:]
        largest = np.flatnonzero(areas == areas.max()) + 1
        scan = labels.T.ravel() if column_major else labels.ravel()
        chosen = min(largest, key=lambda label: int(np.argmax(scan == label)))
        level[(level == -1) & (labels != chosen)] = step - 1
    level[level == -1] = steps
    return level


def _random_reached(rng: np.random.Generator, trial: int) -> np.ndarray:
    """Step counts with ties and every kind of sweep: noise, few levels, blocks, and mattes of real-ish shape."""
    shape = tuple(rng.integers(1, 14, 2))
    kind = trial % 4
    if kind == 0:
        return rng.integers(0, 11, shape).astype(np.uint8)
    if kind == 1:
        return rng.integers(0, 3, shape).astype(np.uint8) * rng.integers(1, 6)
    if kind == 2:  # equal blocks: ties of the largest component in both scan orders
        reached = np.zeros(shape, np.uint8)
        reached[::3, ::3] = rng.integers(1, 11)
        return reached
    pred, gt = (rng.choice([0, 25, 26, 51, 52, 153, 154, 255], shape).astype(np.uint8) for _ in range(2))
    return np.minimum(gfm_protocol._reached(pred), gfm_protocol._reached(gt))  # values on and beside thresholds


def test_union_find_sweep_equals_one_labelling_per_threshold():
    rng = np.random.default_rng(7)
    for trial in range(200):
        reached = _random_reached(rng, trial)
        steps = 10 if trial % 5 else int(reached.max()) + int(trial % 2)  # also sweeps that never reach an empty set
        for skip_empty in (True, False):
            for column_major in (True, False):
                expected = _labelled_levels(reached, steps, skip_empty, column_major)
                got = first_exit_levels(reached, steps, skip_empty, column_major)
                assert got.dtype == np.uint8 and np.array_equal(got, expected), (reached, skip_empty, column_major)


def test_union_find_sweep_on_a_large_soft_matte():
    yy, xx = np.mgrid[:120, :170]
    gt = np.clip(255 * (1.6 - np.hypot(yy - 60, xx - 70) / 30), 0, 255).astype(np.uint8)
    pred = np.clip(gt + np.random.default_rng(3).normal(0, 30, gt.shape), 0, 255).astype(np.uint8)
    reached = np.minimum(gfm_protocol._reached(pred), gfm_protocol._reached(gt))
    assert np.array_equal(first_exit_levels(reached, 10, True, False), _labelled_levels(reached, 10, True, False))


def _scipy_gradient_error(p: np.ndarray, g: np.ndarray) -> np.float32:
    """GFM's Grad sum as its evaluate.py computes it, with scipy on the whole image."""
    magnitudes = []
    for m in (p, g):
        rows = gaussian_filter(m, 1.4, order=[1, 0], output=np.float32)
        cols = gaussian_filter(m, 1.4, order=[0, 1], output=np.float32)
        magnitudes.append(np.sqrt(rows**2 + cols**2))
    return np.sum((magnitudes[0] - magnitudes[1]) ** 2)


@pytest.mark.parametrize("shape", [(70, 200), (1, 1), (3, 130), (90, 5), (17, 65)])
def test_tiled_gradient_error_equals_scipy_bit_for_bit(shape):
    """Constant areas of different values, equal areas and changed patches, across tile borders and sizes."""
    rng = np.random.default_rng(sum(shape))
    g = np.zeros(shape)
    g[:, shape[1] // 2 :] = 1.0
    g[shape[0] // 3 :, : shape[1] // 4] = 0.4
    p = g.copy()
    p[shape[0] // 2 :, shape[1] // 3 :] = 0.7  # both constant there, with other values
    g[:4, :6] = rng.random((4, 6))[: shape[0], : shape[1]]  # equal but not constant
    p[:4, :6] = g[:4, :6]
    p[-5:, -9:] = rng.random((5, 9))[: shape[0], : shape[1]]  # a changed patch in a corner
    assert gfm_gradient_error(p, g) == _scipy_gradient_error(p, g)
    p8, g8 = (np.rint(m * 255).astype(np.uint8) for m in (p, g))  # 8-bit mattes, read as value / 255
    assert gfm_gradient_error(p8, g8) == _scipy_gradient_error(p8 / 255.0, g8 / 255.0)


def test_gradient_error_of_noise_everywhere_equals_scipy_bit_for_bit():
    rng = np.random.default_rng(5)
    p, g = rng.random((50, 140)), rng.random((50, 140))
    assert gfm_gradient_error(p, g) == _scipy_gradient_error(p, g)
    faint = rng.integers(0, 26, (50, 140)).astype(np.uint8)  # 8-bit noise against a soft edge
    edge = np.clip(np.arange(140) * 4 - 200, 0, 255).astype(np.uint8)[None].repeat(50, axis=0)
    assert gfm_gradient_error(faint, edge) == _scipy_gradient_error(faint / 255.0, edge / 255.0)


def test_conn_with_every_threshold_empty_counts_every_pixel_at_level_one():
    """A prediction below 0.1 everywhere: no sweep (levels None) gives the sums of the level map of all 1s."""
    rng = np.random.default_rng(12)
    pred, gt = rng.integers(0, 26, (40, 70)).astype(np.uint8), rng.integers(0, 256, (40, 70)).astype(np.uint8)
    assert gfm_protocol._levels(pred, gt) is None and gfm_protocol._levels(gt, pred) is None
    regions = rng.integers(0, 3, pred.shape).astype(np.uint8)
    ones = np.full(pred.shape, 10, np.uint8)
    for codes in (regions, None):
        assert gfm_protocol._sums_8bit(pred, gt, codes, None) == gfm_protocol._sums_8bit(pred, gt, codes, ones)
        assert gfm_protocol._sums_float(pred / 255.0, gt / 255.0, codes, None) == gfm_protocol._sums_float(
            pred / 255.0, gt / 255.0, codes, ones)


def test_counted_8bit_sums_equal_the_pixel_sums():
    rng = np.random.default_rng(11)
    pred, gt = (rng.integers(0, 256, (60, 90)).astype(np.uint8) for _ in range(2))
    regions = rng.integers(0, 3, pred.shape).astype(np.uint8)
    levels = rng.integers(0, 11, pred.shape).astype(np.uint8)
    for codes in (regions, None):
        counted, counted_conn = gfm_protocol._sums_8bit(pred, gt, codes, levels)
        summed, summed_conn = gfm_protocol._sums_float(pred / 255.0, gt / 255.0, codes, levels)
        assert counted.keys() == summed.keys()
        assert all(counted[key] == pytest.approx(summed[key], rel=1e-12) for key in summed)
        assert counted_conn == pytest.approx(summed_conn, rel=1e-12)


def test_every_numba_module_is_compiled_by_make_setup():
    """``python -m mattekit.kernels`` (make setup) compiles pymatting and OWN_KERNELS: every module of mattekit
    that compiles numba kernels is listed there, so none is compiled silently on a first run."""
    uses_numba = {
        ".".join(path.relative_to(SRC).with_suffix("").parts)
        for path in SRC.rglob("*.py")
        if re.search(r"^from numba import|^import numba", path.read_text(), re.MULTILINE)
    }
    assert uses_numba and uses_numba <= set(kernels.OWN_KERNELS)


@pytest.mark.parametrize("module", kernels.OWN_KERNELS)
def test_the_metric_kernels_are_found_in_the_cache_as_numba_writes_it(module, tmp_path, monkeypatch):
    """Each ``cache=True`` of a module is one index file once compiled (so a first run is announced, a warm one
    is silent): the files numba wrote for this installation, copied into an empty cache, satisfy the check."""
    kernels.prepare(module)
    (source,) = kernels.kernel_sources(module)
    warm = kernels.cache_folder(source.parent)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.delitem(sys.modules, module)
    assert kernels.missing(module) == [source] and not kernels.compiled(module)
    target = kernels.cache_folder(source.parent)
    target.mkdir(parents=True)
    for file in warm.glob(f"{source.stem}.*.nbi"):
        shutil.copy2(file, target / file.name)
    assert kernels.missing(module) == [] and kernels.compiled(module)
