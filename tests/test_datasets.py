"""Dataset readers: small fake trees for every layout, and the two shared real sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mattekit.data.datasets import DATASETS, compose_standard, open_dataset, parse_spec
from mattekit.errors import InputError, UsageError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared real data not found at {SHARED}")
RNG = np.random.default_rng(0)


def write(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` (uint8, grey or RGB) with the format of ``path``'s suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def image(h=6, w=8, value=None) -> np.ndarray:
    if value is not None:
        return np.full((h, w, 3), value, np.uint8)
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def alpha(h=6, w=8) -> np.ndarray:
    return RNG.integers(0, 256, (h, w), dtype=np.uint8)


def trimap(h=6, w=8, unknown_rows=(2, 4)) -> np.ndarray:
    t = np.zeros((h, w), np.uint8)
    t[unknown_rows[1]:] = 255
    t[unknown_rows[0]:unknown_rows[1]] = 128
    return t


def fill(root: Path, image_dir: str, alpha_dir: str, stems, trimap_dir: str | None = None, suffix=".jpg") -> dict:
    """Write a sample per stem; returns the alphas written, by stem."""
    alphas = {}
    for stem in stems:
        write(root / image_dir / f"{stem}{suffix}", image())
        alphas[stem] = write(root / alpha_dir / f"{stem}.png", alpha())
        if trimap_dir:
            write(root / trimap_dir / f"{stem}.png", trimap())
    return {s: np.asarray(Image.open(p)) for s, p in alphas.items()}


def test_registry_holds_every_kind_and_spec_parsing():
    assert set(DATASETS) == {"am2k", "p3m", "aim500", "alphamatting", "comp1k", "d646", "him2k", "synth", "folder"}
    assert parse_spec("Composition-1k:/x:y") == ("comp1k", "/x:y")
    with pytest.raises(UsageError, match="KIND:PATH"):
        parse_spec("alphamatting")
    with pytest.raises(UsageError, match="unknown dataset kind 'coco'"):
        parse_spec("coco:/data")


def test_folder_reader_reads_lazily_and_exactly(tmp_path):
    truth = fill(tmp_path, "image", "alpha", ["b", "a"], trimap_dir="trimap", suffix=".png")
    ds = open_dataset(f"folder:{tmp_path}")
    assert ds.names == ["a", "b"] and ds.has_trimaps
    (tmp_path / "image" / "b.png").write_bytes(b"not a png")  # broken after listing: only loading b fails
    sample = ds.load("a")
    assert sample.image.dtype == np.uint8 and sample.image.shape == (6, 8, 3)
    assert sample.alpha.dtype == np.float32 and np.array_equal(np.round(sample.alpha * 255), truth["a"])
    assert np.array_equal(sample.trimap, trimap())
    alpha_only, trimap_only = ds.truth("a")
    assert np.array_equal(alpha_only, sample.alpha) and np.array_equal(trimap_only, sample.trimap)
    with pytest.raises(InputError, match=r"b\.png is not an image"):
        ds.load("b")
    with pytest.raises(InputError, match="no sample named 'c'"):
        ds.load("c")


def test_folder_reader_without_trimaps_and_with_other_folder_names(tmp_path):
    fill(tmp_path, "merged", "mask", ["x"])
    ds = open_dataset(f"folder:{tmp_path}")
    assert ds.load("x").trimap is None and not ds.has_trimaps


def test_unpaired_stems_are_listed(tmp_path):
    fill(tmp_path, "image", "alpha", ["a", "b", "c"])
    (tmp_path / "alpha" / "b.png").unlink()
    (tmp_path / "alpha" / "c.png").unlink()
    with pytest.raises(InputError, match=r"2 file\(s\) in .*image have no partner of the same name in .*alpha: b, c\."):
        open_dataset(f"folder:{tmp_path}")
    write(tmp_path / "alpha" / "b.png", alpha())
    write(tmp_path / "alpha" / "c.png", alpha())
    write(tmp_path / "alpha" / "zz.png", alpha())
    with pytest.raises(InputError, match=r"1 file\(s\) in .*alpha have no partner .*image: zz\."):
        open_dataset(f"folder:{tmp_path}")


def test_missing_folders_duplicates_and_size_mismatch(tmp_path):
    with pytest.raises(InputError, match=r"folder dataset folder .*nowhere does not exist\."):
        open_dataset(f"folder:{tmp_path / 'nowhere'}")
    (tmp_path / "image").mkdir()
    with pytest.raises(InputError, match=r"has no alpha folder \(looked for alpha, alphas, mask, matte, gt\)"):
        open_dataset(f"folder:{tmp_path}")
    fill(tmp_path, "image", "alpha", ["a"])
    write(tmp_path / "image" / "a.png", image())
    with pytest.raises(InputError, match=r"holds two files for 'a': a\.jpg and a\.png"):
        open_dataset(f"folder:{tmp_path}")
    (tmp_path / "image" / "a.png").unlink()
    write(tmp_path / "alpha" / "a.png", alpha(5, 8))
    with pytest.raises(InputError, match=r"a\.png is 8x5 but its image is 8x6"):
        open_dataset(f"folder:{tmp_path}").load("a")


def test_am2k_validation_has_trimaps_and_train_does_not(tmp_path):
    fill(tmp_path / "validation", "original", "mask", ["m_0001", "m_0002"], trimap_dir="trimap")
    fill(tmp_path / "train", "original", "mask", ["m_0003"])
    val = open_dataset(f"am2k:{tmp_path}")
    assert val.split == "validation" and val.names == ["m_0001", "m_0002"] and val.has_trimaps
    train = open_dataset(f"AM-2k:{tmp_path}", split="train")
    assert train.names == ["m_0003"] and train.load("m_0003").trimap is None
    with pytest.raises(UsageError, match="no split 'test'; choose one of: validation, train"):
        open_dataset(f"am2k:{tmp_path}", split="test")
    with pytest.raises(InputError, match=r"AM-2k validation folder .*validation does not exist"):
        open_dataset(f"am2k:{tmp_path / 'train'}")


@pytest.mark.parametrize("level", ["validation/", ""])
def test_p3m_with_and_without_validation_level(tmp_path, level):
    fill(tmp_path / f"{level}P3M-500-P", "blurred_image", "mask", ["p1", "p2"], trimap_dir="trimap")
    fill(tmp_path / f"{level}P3M-500-NP", "original_image", "mask", ["n1"], trimap_dir="trimap")
    write(tmp_path / f"{level}P3M-500-P" / "facemask" / "p1.png", alpha())
    private = open_dataset(f"p3m:{tmp_path}")
    assert private.names == ["p1", "p2"] and private.has_trimaps
    assert private.meta("p1")["facemask"].endswith("p1.png") and "facemask" not in private.meta("p2")
    assert private.meta("p1")["subset"] == "P3M-500-P"
    public = open_dataset(f"p3m:{tmp_path}", split="P3M-500-NP")
    assert public.names == ["n1"] and public.load("n1").image.shape == (6, 8, 3)
    with pytest.raises(InputError, match="has neither validation/train nor train"):
        open_dataset(f"p3m:{tmp_path}", split="train")


def test_aim500_categories_from_json(tmp_path):
    fill(tmp_path, "original", "mask", ["o_1", "o_2"], trimap_dir="trimap")
    table = {"o_1": {"type": "SO", "category": "animal"}, "o_2": {"type": "NS", "category": "transparent"}}
    (tmp_path / "aim_category_type.json").write_text(json.dumps(table))
    ds = open_dataset(f"aim500:{tmp_path}")
    assert ds.meta("o_2") == {"category": "transparent", "type": "NS"}
    assert ds.load("o_1").meta == {"category": "animal", "type": "SO"} and ds.group_keys == ("category", "type")
    (tmp_path / "aim_category_type.json").write_text(json.dumps({"o_1": table["o_1"]}))
    with pytest.raises(InputError, match=r"has no type and category for 1 image\(s\): o_2\."):
        open_dataset(f"aim500:{tmp_path}")


def test_alphamatting_split_chooses_the_trimap(tmp_path):
    fill(tmp_path, "image", "alpha", ["GT01"], suffix=".png")
    write(tmp_path / "trimap1" / "GT01.png", trimap(unknown_rows=(2, 3)))
    write(tmp_path / "trimap2" / "GT01.png", trimap(unknown_rows=(1, 5)))
    first = open_dataset(f"alphamatting:{tmp_path}").load("GT01")
    second = open_dataset(f"alphamatting:{tmp_path}", split="trimap2").load("GT01")
    assert (first.trimap == 128).sum() == 8 and (second.trimap == 128).sum() == 32
    assert second.meta == {"trimap": "trimap2"}


def make_comp1k(root: Path, fgs=("fgA", "fgB"), per_fg=20, bg_size=(10, 12), lists=True) -> Path:
    base = root / "Test_set"
    licensed = base / "Adobe-licensed images"
    for fg in fgs:
        write(licensed / "fg" / f"{fg}.png", image())
        write(licensed / "alpha" / f"{fg}.png", alpha())
        for k in range(per_fg):
            write(licensed / "trimaps" / f"{fg}_{k}.png", trimap())
    names = [f"bg{i:03d}.jpg" for i in range(per_fg * len(fgs))][::-1]  # list order differs from sorted order
    for name in names:
        write(base / "bg" / name, image(*bg_size))
    if lists:
        (base / "test_fg_names.txt").write_text("\n".join(f"{fg}.png" for fg in fgs[::-1]) + "\n")
        (base / "test_bg_names.txt").write_text("\n".join(names) + "\n")
    return base


def test_compose_standard_by_hand():
    fg = np.full((4, 3, 3), 100, np.uint8)
    bg = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)  # larger: cropped at the top-left, not resized
    a = np.zeros((4, 3), np.uint8)
    a[0, 0], a[0, 1] = 255, 51  # 0.2·100 + 0.8·bg, truncated
    out = compose_standard(fg, a, bg)
    assert out.shape == (4, 3, 3) and out[0, 0].tolist() == [100, 100, 100]
    assert out[0, 1].tolist() == [int(0.2 * 100 + 0.8 * v) for v in bg[0, 1]]
    assert np.array_equal(out[1:], bg[1:4, :3])
    small = np.full((2, 1, 3), 40, np.uint8)  # smaller than fg: enlarged by max(3/1, 4/2) = 3 to 3x6, then cropped
    assert np.array_equal(compose_standard(fg, np.zeros((4, 3), np.uint8), small), np.full((4, 3, 3), 40, np.uint8))


def test_comp1k_composes_in_list_order_deterministically(tmp_path):
    base = make_comp1k(tmp_path)
    ds = open_dataset(f"comp1k:{tmp_path}")
    assert len(ds) == 40 and ds.names[:2] == ["fgB_0", "fgB_1"] and ds.names[20] == "fgA_0"
    assert ds.meta("fgB_0") == {"foreground": "fgB", "background": "bg039"}  # first name of the bg list
    assert ds.meta("fgA_19")["background"] == "bg000"
    sample = ds.load("fgA_3")
    fg = np.asarray(Image.open(base / "Adobe-licensed images" / "fg" / "fgA.png"))
    a = np.asarray(Image.open(base / "Adobe-licensed images" / "alpha" / "fgA.png"))
    bg = np.asarray(Image.open(base / "bg" / f"{ds.meta('fgA_3')['background']}.jpg").convert("RGB"))
    assert np.array_equal(sample.image, compose_standard(fg, a, bg))
    assert np.array_equal(sample.image, ds.load("fgA_3").image)  # deterministic
    assert np.array_equal(np.round(sample.alpha * 255), a) and sample.trimap is not None


def test_comp1k_sorted_without_lists_and_errors(tmp_path):
    make_comp1k(tmp_path, lists=False, bg_size=(4, 4))  # backgrounds smaller than foregrounds: enlarged
    ds = open_dataset(f"comp1k:{tmp_path / 'Test_set'}")
    assert ds.names[0] == "fgA_0" and ds.meta("fgA_0")["background"] == "bg000"
    assert ds.load("fgB_19").image.shape == (6, 8, 3)
    (tmp_path / "Test_set" / "bg" / "bg039.jpg").unlink()
    with pytest.raises(InputError, match="has 39 backgrounds but 2 foregrounds need 40 \\(20 each\\)"):
        open_dataset(f"comp1k:{tmp_path}")
    (tmp_path / "Test_set" / "Adobe-licensed images" / "trimaps" / "fgA_3.png").unlink()
    write(tmp_path / "Test_set" / "bg" / "bg039.jpg", image())
    with pytest.raises(InputError, match="trimaps has no trimap for fgA_3"):
        open_dataset(f"comp1k:{tmp_path}")


def test_comp1k_already_composed(tmp_path):
    write(tmp_path / "alpha" / "fgA.png", alpha())
    for k in range(2):
        write(tmp_path / "merged" / f"fgA_{k}.png", image())
    ds = open_dataset(f"composition-1k:{tmp_path}")
    assert ds.names == ["fgA_0", "fgA_1"] and ds.load("fgA_1").trimap is None
    write(tmp_path / "merged" / "other_0.png", image())
    with pytest.raises(InputError, match=r"1 composed image\(s\) have no alpha in .*alpha: other_0\."):
        open_dataset(f"comp1k:{tmp_path}")


def test_d646_composes_foregrounds_from_test_folder(tmp_path):
    test = tmp_path / "Test"
    for fg in ("f1",):
        write(test / "FG" / f"{fg}.png", image(value=250))
        write(test / "GT" / f"{fg}.png", np.full((6, 8), 255, np.uint8))
    for i in range(20):
        write(test / "bg" / f"b{i:02d}.png", image(value=i))
    ds = open_dataset(f"d646:{tmp_path}")
    assert len(ds) == 20 and ds.meta("f1_7")["background"] == "b07"
    assert np.array_equal(ds.load("f1_7").image, image(value=250))  # alpha 1 everywhere: the foreground
    (test / "bg").rename(tmp_path / "elsewhere")
    with pytest.raises(InputError, match="needs a foreground folder \\(FG, fg\\) and a bg folder"):
        open_dataset(f"d646:{tmp_path}")


def test_him2k_instances_and_whole_images(tmp_path):
    for subset, names in (("comp", ["c1"]), ("natural", ["n1", "n2"])):
        for name in names:
            write(tmp_path / "images" / subset / f"{name}.jpg", image())
            for instance in ("00", "01") if name != "n2" else ("00",):
                write(tmp_path / "alphas" / subset / name / f"{instance}.png", alpha())
    ds = open_dataset(f"him2k:{tmp_path}")
    assert ds.names == ["comp/c1/00", "comp/c1/01", "natural/n1/00", "natural/n1/01", "natural/n2/00"]
    assert ds.meta("natural/n1/01") == {"subset": "natural", "image": "natural/n1", "instance": "01"}
    sample = ds.load("comp/c1/01")
    assert sample.trimap is None and sample.alpha.shape == (6, 8)
    whole = ds.load_instances("comp/c1")
    assert whole.instances == ["00", "01"] and np.array_equal(whole.alphas[1], sample.alpha)
    assert np.array_equal(whole.image, sample.image)
    assert open_dataset(f"him2k:{tmp_path}", split="natural").image_names == ["natural/n1", "natural/n2"]
    write(tmp_path / "images" / "comp" / "c2.jpg", image())
    with pytest.raises(InputError, match=r"1 name\(s\) in .*images/comp have no partner .*alphas/comp: c2\."):
        open_dataset(f"him2k:{tmp_path}")


@needs_shared
@pytest.mark.parametrize("split", ["trimap1", "trimap2"])
def test_real_alphamatting(split):
    ds = open_dataset(f"alphamatting:{SHARED / 'alphamatting'}", split=split)
    assert len(ds) == 18 and ds.names[0] == "GT01" and ds.has_trimaps
    sample = ds.load("GT01")
    assert sample.image.shape[:2] == sample.alpha.shape == sample.trimap.shape
    assert set(np.unique(sample.trimap)) <= {0, 128, 255} and 0 < (sample.trimap == 128).mean() < 0.5
    # the hand-made alpha agrees with its trimap: clear foreground inside 255, background inside 0
    assert sample.alpha[sample.trimap == 255].mean() > 0.95 and sample.alpha[sample.trimap == 0].mean() < 0.05


@needs_shared
def test_real_trimaps_differ():
    one = open_dataset(f"alphamatting:{SHARED / 'alphamatting'}").truth("GT05")[1]
    two = open_dataset(f"alphamatting:{SHARED / 'alphamatting'}", split="trimap2").truth("GT05")[1]
    assert (one != two).any()


@needs_shared
def test_real_dim_composites_through_the_folder_reader():
    ds = open_dataset(f"folder:{SHARED / 'dim-composites'}")
    assert ds.names == [str(i) for i in sorted(range(10), key=str)] and ds.has_trimaps
    samples = list(ds)
    assert all(s.image.shape == (320, 320, 3) and s.alpha.shape == (320, 320) for s in samples)
    assert all(set(np.unique(s.trimap)) <= {0, 128, 255} for s in samples)
