"""``mattekit predict --ray`` and ``eval --ray``: on a local two-CPU Ray instance with two actors, the same outputs,
failures, rows and resume as the local runs, on real photos read in place; without Ray, the extra's sentence."""

import contextlib
import csv
import io
import logging
import shutil
import socket
import sys

import pytest

from mattekit.cli import main
from mattekit.distributed import start_ray
from mattekit.errors import UsageError

PHOTOS = ("GT01.png", "GT02.png", "GT04.png")  # alphamatting photos, shrunk to 160 pixels a side
SHRINK = ["--max-size", "160"]
NO_RAY = "mattekit: matting on Ray (--ray) needs the distributed extra (ray is missing): pip install " \
         "'mattekit[distributed]'.\n"


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module (2 CPUs); ``--ray`` without an address joins it."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             object_store_memory=128 << 20)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(shared_data, tmp_path_factory):
    """Three photos (in place) and a truncated PNG."""
    broken = tmp_path_factory.mktemp("corrupt") / "broken.png"
    broken.write_bytes((shared_data / "alphamatting" / "image" / "GT05.png").read_bytes()[:300])
    return [str(shared_data / "alphamatting" / "image" / name) for name in PHOTOS] + [str(broken)]


@pytest.fixture(scope="module")
def runs(inputs, local_ray, tmp_path_factory):
    """The local batch (with Ray made unimportable: it must not need it) and ``--ray`` with two actors."""
    out = tmp_path_factory.mktemp("runs")
    said = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "ray", None)
        said["local"] = _predict(inputs + ["-o", str(out / "local")] + SHRINK)
    said["ray"] = _predict(inputs + ["-o", str(out / "ray")] + SHRINK + ["--ray", "--ray-actors", "2"])
    return out, said


def _predict(argv):
    """(exit status, the report's summary, its failure lines), captured by hand: capsys is not module-scoped."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["predict", *argv])
    failures = [line for line in stderr.getvalue().splitlines() if line.startswith("failed: ")]
    return status, stdout.getvalue(), failures


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_ray_writes_the_local_outputs_byte_for_byte_and_reports_the_corrupt_file(runs, inputs):
    out, said = runs
    local = _files(out / "local")
    assert sorted(local) == sorted(f"{name[:-4]}.{kind}.png" for name in PHOTOS for kind in ("alpha", "cutout"))
    assert _files(out / "ray") == local
    for where, (status, summary, failures) in said.items():
        assert status == 1 and summary == f"3 of 4 images matted into {out / where}.\n"
        assert failures == [f"failed: {inputs[-1]} is truncated or corrupt (image file is truncated)."]


def test_ray_resumes_a_stopped_run_redoing_only_what_is_missing(runs, inputs):
    out, _ = runs
    folder = out / "ray"
    (folder / "GT02.alpha.png").unlink()  # stopped between GT02's two outputs
    (folder / "GT02.cutout.png").unlink()
    leftover = folder / ".GT02.alpha.png.999999999.abcd1234.png"  # a killed writer's temporary file
    leftover.write_bytes(b"half")
    kept = {name: (folder / name).stat().st_mtime_ns for name in ("GT01.alpha.png", "GT04.cutout.png")}
    status, summary, failures = _predict(inputs + ["-o", str(folder)] + SHRINK + ["--ray", "--ray-actors", "2",
                                                                                    "--skip-existing"])
    assert status == 1 and summary == f"1 of 4 images matted into {folder}, 2 skipped.\n"
    assert len(failures) == 1 and "broken.png" in failures[0]
    assert {name: (folder / name).stat().st_mtime_ns for name in kept} == kept
    assert not leftover.exists() and _files(folder) == _files(out / "local")


def test_an_engine_that_cannot_be_built_ends_the_run_with_its_sentence(inputs, local_ray, tmp_path, capsys):
    missing = tmp_path / "missing.pth"
    for extra in ([], ["--ray", "--ray-actors", "1"]):
        assert main(["predict", inputs[0], "-o", str(tmp_path / "out"), "--engine", "gfm", "--weights", str(missing),
                     *extra]) == 1
        assert capsys.readouterr().err == f"mattekit: weights file {missing} does not exist.\n"
    assert not (tmp_path / "out").exists()


def test_without_ray_the_flag_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["predict", "photo.jpg", "-o", str(tmp_path / "out"), "--ray"]) == 2
    assert capsys.readouterr().err == NO_RAY
    assert not (tmp_path / "out").exists()


def test_ray_usage_errors(tmp_path, capsys):
    assert main(["predict", "a.jpg", "-o", str(tmp_path), "--ray-actors", "2"]) == 2
    assert capsys.readouterr().err == "mattekit: --ray-actors and --ray-gpus go with --ray.\n"
    assert main(["predict", "--ray", "a.jpg", "b.jpg", "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("mattekit: --ray takes auto, ray://HOST:PORT or HOST:PORT, not 'a.jpg'; put "
                                       "--ray after the inputs.\n")
    assert main(["eval", "--dataset", "folder:set", "--engine", "interactive", "--interaction", "click", "--ray"]) == 2
    assert capsys.readouterr().err == "mattekit: --ray goes without --interaction; the interactive benchmark runs here.\n"


def _rows(report):
    with open(report / "per_image.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_eval_on_ray_resumes_and_writes_the_local_rows_in_order(shared_data, local_ray, tmp_path):
    """Three DIM composites (linked in place) scored by the default engine here and on two Ray actors; the Ray run
    resumes from the local run's first row and a line cut short."""
    for kind in ("image", "alpha"):
        (tmp_path / "set" / kind).mkdir(parents=True)
        for name in ("0.png", "1.png", "2.png"):
            (tmp_path / "set" / kind / name).symlink_to(shared_data / "dim-composites" / kind / name)
    argv = ["eval", "--dataset", f"folder:{tmp_path / 'set'}", "--engine", "default", "--quiet", "-o"]
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        patch.setitem(sys.modules, "ray", None)
        assert main(argv + [str(tmp_path / "local")]) == 0
    local, ray = tmp_path / "local", tmp_path / "ray"
    (ray / "predictions").mkdir(parents=True)
    shutil.copy(local / "settings.json", ray)
    shutil.copy(local / "predictions" / "0.png", ray / "predictions")
    lines = (local / "per_image.csv").read_text().splitlines(keepends=True)
    (ray / "per_image.csv").write_text("".join(lines[:2]) + lines[2][:10])  # stopped while writing row 1
    with contextlib.redirect_stdout(io.StringIO()) as said:
        assert main(argv + [str(ray), "--ray", "--ray-actors", "2"]) == 0
    assert "images scored: 3 of 3" in said.getvalue()
    for ours, theirs in zip(_rows(ray), _rows(local), strict=True):  # timings differ; the engine's alphas may
        assert ours["name"] == theirs["name"]                        # differ in the last float digits (threads)
        for key in set(ours) - {"name", "seconds", "metric_seconds"}:
            assert float(ours[key]) == pytest.approx(float(theirs[key]), rel=1e-12, abs=1e-15), key
    assert _files(ray / "predictions") == _files(local / "predictions")
    assert sorted(p.name for p in (ray / "worst").iterdir()) == sorted(p.name for p in (local / "worst").iterdir())


def test_an_address_where_no_cluster_answers_is_one_sentence(monkeypatch):
    ray = pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a process not yet connected
    with pytest.raises(UsageError) as caught:
        start_ray(f"127.0.0.1:{port}")
    assert str(caught.value) == (f"no Ray cluster answers at 127.0.0.1:{port} (Connection refused); start one with "
                                 "`ray start --head`, or give --ray without an address for a local one.")
