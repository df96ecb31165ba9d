import os

import numpy as np
import pytest
from PIL import Image

from mattekit import io
from mattekit.errors import InputError


def test_grey_palette_rgba_cmyk_become_rgb(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    assert np.array_equal(io.load_image(tmp_path / "grey.png"), np.repeat(grey[..., None], 3, axis=2))

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    assert io.load_image(tmp_path / "rgba.png")[0, 0].tolist() == [200, 0, 0]

    palette = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    palette.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    palette.save(tmp_path / "palette.png")
    assert io.load_image(tmp_path / "palette.png").tolist() == [[[10, 20, 30], [40, 50, 60]]]

    Image.new("CMYK", (3, 2), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=100)
    red = io.load_image(tmp_path / "cmyk.jpg")
    assert red.shape == (2, 3, 3) and red[..., 0].min() > 240 and red[..., 1:].max() < 15


def test_sixteen_bit_grey_keeps_its_scale(tmp_path):
    values = np.array([[0, 257 * 100, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert io.load_image(tmp_path / "deep.png")[0, :, 0].tolist() == [0, 100, 255]
    assert io.load_alpha(tmp_path / "deep.png")[0].tolist() == pytest.approx([0.0, 25700 / 65535, 1.0])


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((2, 3, 3), np.uint8)
    pixels[0, 0] = 255  # top-left marker
    im = Image.fromarray(pixels)
    exif = im.getexif()
    exif[0x0112] = 6  # stored rotated: display needs a 90 degree clockwise turn
    im.save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    loaded = io.load_image(tmp_path / "rotated.jpg")
    assert loaded.shape == (3, 2, 3)
    assert loaded[0, 1].min() > 200 and loaded[0, 0].max() < 60  # the marker moved to the top-right


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "is empty (0 bytes)."),
    (lambda p: p.write_text("not a picture"), "is not an image that can be read"),
    (lambda p: None, "does not exist or is not a file."),
])
def test_unusable_files_name_the_file(tmp_path, make, message):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(InputError) as error:
        io.load_image(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_truncated_png(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.png is truncated or corrupt"):
        io.load_image(tmp_path / "cut.png")


def test_pixel_limit_checked_before_decoding(tmp_path):
    Image.new("RGB", (100, 60)).save(tmp_path / "big.png")
    with pytest.raises(InputError, match=r"100x60 = 0.0 megapixels, over the limit of 0.005"):
        io.load_image(tmp_path / "big.png", max_pixels=5000)
    assert io.load_image(tmp_path / "big.png", max_pixels=6000).shape == (60, 100, 3)


def test_trimap_checks_size_and_values(tmp_path):
    Image.fromarray(np.array([[0, 128, 255]], np.uint8)).save(tmp_path / "good.png")
    assert io.load_trimap(tmp_path / "good.png", (1, 3)).tolist() == [[0, 128, 255]]
    with pytest.raises(InputError, match=r"good.png is 3x1 but its image is 4x1"):
        io.load_trimap(tmp_path / "good.png", (1, 4))
    Image.fromarray(np.array([[0, 100, 255]], np.uint8)).save(tmp_path / "soft.png")
    with pytest.raises(InputError, match=r"soft.png holds values other than 0, 128 and 255 \(for example 100\)"):
        io.load_trimap(tmp_path / "soft.png", (1, 3))


def test_arrays_are_converted_or_refused():
    assert io.as_rgb(np.array([[0.0, 1.0]])).tolist() == [[[0] * 3, [255] * 3]]
    assert io.as_rgb(np.full((1, 1, 4), 7, np.uint8)).tolist() == [[[7, 7, 7]]]
    with pytest.raises(InputError, match="float image array must hold values in"):
        io.as_rgb(np.array([[2.0]]))
    with pytest.raises(InputError, match=r"not of shape \(2, 2, 5\)"):
        io.as_rgb(np.zeros((2, 2, 5)))


def test_writes_are_atomic_and_round_trip(tmp_path):
    alpha = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    io.save_alpha(tmp_path / "sub" / "a.png", alpha)
    assert np.abs(io.load_alpha(tmp_path / "sub" / "a.png") - alpha).max() <= 0.5 / 255 + 1e-7
    assert os.listdir(tmp_path / "sub") == ["a.png"]


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        io.save_image(tmp_path / "x.png", np.zeros((2, 2, 7), np.uint8))
    assert os.listdir(tmp_path) == []


def test_background_specs():
    assert io.parse_background("white", (1, 1)).tolist() == [[[255, 255, 255]]]
    assert io.parse_background("0,128,255", (1, 2))[0, 1].tolist() == [0, 128, 255]
    with pytest.raises(InputError, match="neither a colour"):
        io.parse_background("no-such-colour-or-file", (1, 1))


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_have_the_mode_an_ordinary_open_gives(tmp_path, umask):
    previous = os.umask(umask)
    try:
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("x")
        io.write_text(tmp_path / "atomic.txt", "x")
        io.save_alpha(tmp_path / "alpha.png", np.zeros((2, 2), np.float32))
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    assert (tmp_path / "plain.txt").stat().st_mode & 0o777 == expected
    assert (tmp_path / "atomic.txt").stat().st_mode & 0o777 == expected
    assert (tmp_path / "alpha.png").stat().st_mode & 0o777 == expected


def test_the_file_is_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(b))), real_replace(a, b)))
    io.write_text(tmp_path / "notes.txt", "done")
    assert [kind for kind, _ in events] == ["fsync", "replace", "fsync"]
    assert events[0][1].startswith(str(tmp_path / ".notes.txt.")) and events[2][1] == str(tmp_path)


def test_an_exception_mid_write_leaves_no_partial_and_no_temporary_file(tmp_path):
    (tmp_path / "kept.txt").write_text("old")
    for target in ("new.txt", "kept.txt"):
        with pytest.raises(RuntimeError, match="disk yanked"):
            with io.atomic_path(tmp_path / target) as tmp:
                with open(tmp, "w") as f:
                    f.write("half of it")
                    f.flush()
                    raise RuntimeError("disk yanked")
    assert sorted(os.listdir(tmp_path)) == ["kept.txt"] and (tmp_path / "kept.txt").read_text() == "old"


def test_folders_list_every_file_as_an_image_or_skipped_with_the_reason(tmp_path):
    Image.new("RGB", (3, 2), "red").save(tmp_path / "b.gif")
    Image.new("RGB", (3, 2), "red").save(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "README").write_text("hello")
    images, skipped = io.list_inputs([tmp_path])
    assert [p.name for p in images] == ["a.png", "b.gif"]
    assert {p.name: why for p, why in skipped.items()} == {
        "README": "not an image: no image format has the suffix (none)",
        "notes.txt": "not an image: no image format has the suffix .txt"}
    assert io.load_image(images[1]).shape == (2, 3, 3)
