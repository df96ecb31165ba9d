"""`mattekit compose` and `mattekit denoise` on tiny images: files, manifest, reproducibility, resuming, BM3D cache.

BM3D is slow even on tiny images, so the module shares one pixel store: each copy is computed once.
"""

import json
import os

import numpy as np
import pytest

from mattekit import io
from mattekit.cli import main
from mattekit.data.comp_track import CompTrack, Pixels
from mattekit.data.store import PixelStore, derived_key, file_key
from mattekit.data.gfm_samples import CompositeDataset

SEED = 3  # sample 0 of this seed uses the denoised copies (checked below)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("comp")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:48]
    alpha = np.clip((xx - 14) / 20.0, 0, 1).astype(np.float32)
    image = np.clip(np.stack([xx * 5, yy * 6, 90 + 0 * xx], -1) + rng.normal(0, 12, (40, 48, 3)), 0, 255)
    io.save_image(root / "fgs" / "image" / "cat.jpg", image.astype(np.uint8))
    io.save_alpha(root / "fgs" / "alpha" / "cat.png", alpha)
    for name, shape in (("sea.png", (32, 40, 3)), ("wall.png", (36, 36, 3))):
        io.save_image(root / "bgs" / name, np.clip(100 + rng.normal(0, 25, shape), 0, 255).astype(np.uint8))
    return root


def compose(data, out, *extra):
    return main(["compose", str(data / "fgs"), str(data / "bgs"), "-o", str(out), "--mode", "rssn",
                 "--per-foreground", "2", "--seed", str(SEED), "--foreground", "ml",
                 "--cache", str(data / "store"), "--quiet", *extra])


def tree_bytes(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_compose_writes_a_reproducible_resumable_set(data, capsys):
    first = data / "first"
    assert compose(data, first) == 0
    records = [json.loads(line) for line in (first / "manifest.jsonl").read_text().splitlines()]
    assert [r["name"] for r in records] == ["cat_0", "cat_1"]
    assert set(records[0]) >= {"name", "fg", "bg", "seed", "mode", "denoise", "blur_kernel", "noise_sigma"}
    assert records[0]["denoise"] is True and {r["bg"] for r in records} == {"sea.png", "wall.png"}
    for r in records:
        assert r["blur_kernel"] in (None, 20, 30, 40, 50, 60) and r["noise_sigma"] in (None, 10.0)
        image, fg, bg = (io.load_image(first / f / f"{r['name']}.png").astype(float) for f in ("image", "fg", "bg"))
        a = io.load_alpha(first / "alpha" / f"{r['name']}.png")[..., None]
        assert image.shape == (40, 48, 3) and np.abs(image - (a * fg + (1 - a) * bg)).max() <= 1.0

    second = data / "second"
    assert compose(data, second, "--workers", "2") == 0
    assert tree_bytes(first) == tree_bytes(second)  # same seed, other worker count: byte-identical

    (second / "image" / "cat_1.png").unlink()
    manifest = second / "manifest.jsonl"
    manifest.write_text(manifest.read_text()[:-20])  # an interrupted run leaves a line cut short
    capsys.readouterr()
    assert compose(data, second) == 0
    assert "1 composed, 1 already there" in capsys.readouterr().out
    assert tree_bytes(first) == tree_bytes(second)

    assert compose(data, data / "third", "--seed", str(SEED + 1)) == 0
    assert tree_bytes(data / "third") != tree_bytes(first)
    assert compose(data, first, "--per-foreground", "1") == 2
    assert "other settings (per_foreground" in capsys.readouterr().err


def test_bm3d_copies_are_cached_by_content(data):
    pixels = Pixels(store=data / "store", foreground_method="ml")
    path = data / "bgs" / "sea.png"
    stored = PixelStore(data / "store").path(derived_key(file_key(path), "bm3d", "np"))
    denoised = np.array(pixels.background(path, denoised=True))
    assert stored.is_file()
    before = stored.stat().st_mtime_ns
    assert np.array_equal(pixels.background(path, denoised=True), denoised)
    assert stored.stat().st_mtime_ns == before  # read back, not computed again
    noisy = io.load_image(path).astype(float)
    assert denoised.std() < noisy.std() / 2  # BM3D removed most of the sigma-25 noise

    copy = data / "copy-of-sea.png"
    copy.write_bytes(path.read_bytes())
    assert np.array_equal(pixels.background(copy, denoised=True), denoised)  # same content, same copy
    assert file_key(copy) == file_key(path)


def test_denoise_verb_fills_the_store_and_training_samples_repeat(data, capsys):
    assert main(["denoise", str(data / "fgs"), str(data / "bgs"), "--workers", "1", "--foreground", "ml",
                 "--cache", str(data / "store"), "--quiet"]) == 0
    assert "3 BM3D copies in the store" in capsys.readouterr().out
    options = dict(mode="rssn", per_foreground=2, seed=SEED, foreground_method="ml", store=data / "store")
    one, two = CompositeDataset(data / "fgs", data / "bgs", ("tt", "bt"), **options), \
        CompositeDataset(data / "fgs", data / "bgs", ("tt", "bt"), **options)
    for i in range(len(one)):
        a, b = one[i], two[i]
        assert a["draws"] == b["draws"]
        assert all(a[k].tobytes() == b[k].tobytes() for k in a if k != "draws")
    one.set_epoch(1)
    assert one[0]["image"].tobytes() != two[0]["image"].tobytes()


def test_compose_names_a_missing_folder(data, capsys):
    assert main(["compose", str(data / "nope"), str(data / "bgs"), "-o", str(data / "x"), "--quiet"]) == 1
    assert f"foreground folder {data / 'nope'} does not exist." in capsys.readouterr().err
    assert not os.path.exists(data / "x")


def test_pairings(data):
    fixed = CompTrack(data / "fgs", data / "bgs", pairing="fixed", per_foreground=3)
    assert [fixed.plan(i).background.name for i in range(3)] == ["sea.png", "wall.png", "sea.png"]
    paper = CompTrack(data / "fgs", data / "bgs", pairing="random", per_foreground=2, seed=5)
    assert {paper.plan(i).background.name for i in range(2)} == {"sea.png", "wall.png"}  # K distinct backgrounds
    assert [paper.plan(i, epoch=0).seed for i in range(2)] != [paper.plan(i, epoch=1).seed for i in range(2)]
