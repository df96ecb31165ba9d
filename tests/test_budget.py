"""Memory budgets: an image that would not fit is refused in one sentence, and the batch goes on."""

import numpy as np
import pytest
from PIL import Image

from mattekit.batch import predict_files
from mattekit.budget import GIB, Budget, available_memory, check_fits
from mattekit.errors import InputError
from mattekit.matte import Matte


def test_the_need_grows_with_the_pixels_and_is_compared_with_the_limit():
    budget = Budget(base=GIB, per_megapixel=100 << 20)
    assert budget.need((1000, 1000)) == GIB + (100 << 20)
    check_fits("fits.png", (2000, 3000), budget, limit=2 * GIB)  # 1 GiB + 600 MiB
    with pytest.raises(InputError) as caught:
        check_fits("big.png", (3000, 4000), budget, limit=2 * GIB)  # 1 GiB + 1200 MiB
    assert str(caught.value) == ("big.png (4000x3000) would need about 2.2 GiB of memory to matte, more than the "
                                 "2.0 GiB available; shrink it with --max-size or free memory (--max-memory sets the "
                                 "limit).")


def test_available_memory_counts_what_the_process_holds():
    available = available_memory()
    assert available is None or available > 64 << 20


class FlatEngine:
    """Mattes everything as foreground; needs 1 MiB per pixel by its budget, so a limit refuses large images."""

    name = "flat"
    budget = Budget(base=0, per_megapixel=1 << 40)

    def predict(self, image, trimap=None):
        return Matte(np.ones(image.shape[:2], np.float32), image.astype(np.float32) / 255)


def test_a_refused_image_does_not_end_the_batch(tmp_path):
    Image.new("RGB", (40, 30)).save(tmp_path / "large.png")
    Image.new("RGB", (4, 3)).save(tmp_path / "small.png")
    out = tmp_path / "out"
    report = predict_files([tmp_path / "large.png", tmp_path / "small.png"], out, FlatEngine(), max_memory=GIB)
    assert report.done == [tmp_path / "small.png"]
    assert report.failed == {tmp_path / "large.png": f"{tmp_path / 'large.png'} (40x30) would need about 1.2 GiB of "
                             "memory to matte, more than the 1.0 GiB available; shrink it with --max-size or free "
                             "memory (--max-memory sets the limit)."}
    assert sorted(p.name for p in out.iterdir()) == ["small.alpha.png", "small.cutout.png"]
