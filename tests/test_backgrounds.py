"""Background curation: pHash duplicates, size filter and resize, salient subjects, report and resume."""

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from mattekit import io, weights
from mattekit.cli import main
from mattekit.data.backgrounds import REPORT, curate, hamming, phash

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


def test_phash_matches_edited_copies_and_separates_different_photos():
    photos = sorted(need(DATA / "backgrounds").glob("*.jpg"))
    images = [cv2.resize(io.load_image(p), None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA) for p in photos]
    hashes = [phash(im) for im in images]
    pairs = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1:]]
    assert min(pairs) > 8  # no two of the 27 distinct backgrounds count as duplicates
    original = images[0]
    ok, jpeg = cv2.imencode(".jpg", original, [cv2.IMWRITE_JPEG_QUALITY, 50])
    h, w = original.shape[:2]
    edits = [cv2.resize(original, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
             cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED),
             np.clip(original.astype(int) + 12, 0, 255).astype(np.uint8),
             original[h // 40:h - h // 40, w // 40:w - w // 40]]
    assert [hamming(hashes[0], phash(e)) <= 8 for e in edits] == [True] * 4


class BrightDiscIsTheSubject:
    """A stand-in segmenter: very bright pixels are the salient subject."""

    def probability(self, image):
        return (image.min(axis=2) > 240).astype(np.float32)


def texture(seed, shape):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 200, (8, 8, 3), dtype=np.uint8)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def test_curate_keeps_filters_and_resumes(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    io.save_image(src / "a_field.png", texture(1, (150, 200)))
    io.save_image(src / "b_field_copy.jpg", cv2.resize(texture(1, (150, 200)), (300, 225)))
    io.save_image(src / "c_tiny.png", texture(2, (90, 300)))
    subject = texture(3, (120, 120))
    cv2.circle(subject, (60, 60), 30, (255, 255, 255), -1)
    io.save_image(src / "d_subject.png", subject)
    io.save_image(src / "e_sea.png", texture(4, (240, 120)))
    (src / "f_broken.png").write_bytes(b"not an image")
    verdicts = curate(src, dst, min_short_side=100, segmenter=BrightDiscIsTheSubject(), progress=False)
    reasons = {v.file: v.reason for v in verdicts}
    assert [v.file for v in verdicts if v.kept] == ["a_field.png", "e_sea.png"]
    assert reasons["b_field_copy.jpg"].startswith("near-duplicate")
    assert reasons["c_tiny.png"] == "too small: shorter side 90 < 100"
    assert reasons["d_subject.png"].startswith("salient subject: ")
    assert 0.17 < {v.file: v for v in verdicts}["d_subject.png"].salient < 0.21  # a disc of pi·30² / 120²
    assert reasons["f_broken.png"].startswith("unreadable:")
    assert io.load_image(dst / "a_field.png").shape == (100, 133, 3)
    assert io.load_image(dst / "e_sea.png").shape == (200, 100, 3)
    assert sorted(p.name for p in dst.iterdir()) == ["a_field.png", REPORT, "e_sea.png"]

    (dst / "e_sea.png").unlink()
    again = curate(src, dst, min_short_side=100, segmenter=BrightDiscIsTheSubject(), progress=False)
    assert [v.file for v in again if v.kept] == ["a_field.png", "e_sea.png"] and (dst / "e_sea.png").is_file()
    with open(dst / REPORT) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7  # six photos, and e_sea.png once more when it was redone


def test_u2netp_drops_subject_photos(tmp_path, capsys):
    if not weights.cached_path(weights.SOURCES["u2netp"]).is_file():
        pytest.skip("U2-Netp weights are not in the cache (`mattekit models pull u2netp`)")
    src = tmp_path / "src"
    src.mkdir()
    for path in (need(DATA / "backgrounds" / "storm.jpg"), DATA / "backgrounds" / "wood.jpg",
                 need(DATA / "animals-pseudo" / "image" / "sample2.jpg")):
        (src / path.name).write_bytes(path.read_bytes())
    assert main(["backgrounds", "curate", str(src), str(tmp_path / "dst"), "--min-short-side", "360",
                 "--quiet"]) == 0
    assert "2 of 3 photos kept" in capsys.readouterr().out
    with open(tmp_path / "dst" / REPORT) as f:
        rows = {row["file"]: row for row in csv.DictReader(f)}
    assert rows["sample2.jpg"]["reason"].startswith("salient subject")
    assert float(rows["storm.jpg"]["salient"]) < 0.08 and float(rows["sample2.jpg"]["salient"]) > 0.3
