"""First run: inputs are checked before any engine or numba kernel is loaded; a compile is announced in one line."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mattekit import kernels

SRC = str(Path(__file__).resolve().parents[1] / "src")
LEFT_OUT = "rw_laplacian"  # one kernel, unused by mattekit, compiled in about 2 s: what the first run compiles


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": SRC, **env})


def copy_cache(warm: dict[Path, Path], leave_out: str) -> None:
    """Copy the compiled kernels of every module of ``warm`` (source file: its cache folder) but ``leave_out``
    into the folders numba gives them under the present $NUMBA_CACHE_DIR (``kernels.cache_folder``)."""
    for source, folder in warm.items():
        if source.stem != leave_out:
            target = kernels.cache_folder(source.parent)
            target.mkdir(parents=True, exist_ok=True)
            for file in folder.glob(f"{source.stem}.*.nb[ic]"):
                shutil.copy2(file, target / file.name)


def test_the_first_run_tells_once_that_it_compiles_and_a_warm_cache_runs_silently(tmp_path, monkeypatch):
    kernels.prepare()  # this installation's own cache is complete (compiled now on a machine that never did)
    warm = {source: kernels.cache_folder(source.parent) for source in kernels.kernel_sources()}
    cache = tmp_path / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    assert len(kernels.missing()) == len(warm)  # an empty cache lacks every kernel
    copy_cache(warm, LEFT_OUT)  # so the first run compiles one kernel, in seconds rather than a minute
    assert [source.stem for source in kernels.missing()] == [LEFT_OUT]

    image = np.zeros((24, 24, 3), np.uint8)
    image[6:18, 8:16] = 200
    trimap = np.zeros((24, 24), np.uint8)
    trimap[4:20, 6:18], trimap[8:16, 10:14] = 128, 255
    Image.fromarray(image).save(tmp_path / "box.png")
    Image.fromarray(trimap).save(tmp_path / "trimap.png")
    command = [sys.executable, "-m", "mattekit", "predict", str(tmp_path / "box.png"), "--engine", "grabcut-cf",
               "--trimap", str(tmp_path / "trimap.png"), "-o", str(tmp_path / "out")]
    env = {**os.environ, "PYTHONPATH": SRC, "NUMBA_CACHE_DIR": str(cache)}
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines().count(kernels.NOTICE) == 1
    assert kernels.NOTICE == "mattekit: compiling numerical kernels; this happens once and takes about a minute."
    assert kernels.missing() == []  # numba wrote the kernel where cache_folder says
    second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0, second.stderr
    assert kernels.NOTICE not in second.stderr
    assert (tmp_path / "out" / "box.alpha.png").is_file()


def test_refusing_an_empty_file_loads_no_engine_and_compiles_nothing(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "notes.txt", format="PNG")  # not an image by name
    code = ("import sys; from mattekit.cli import main; "
            f"rc = main(['predict', {str(tmp_path)!r}, '-o', {str(tmp_path / 'out')!r}]); "
            "print(rc, sorted(m for m in ('pymatting', 'numba', 'onnxruntime', 'torch') if m in sys.modules))")
    result = run_python(code, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    assert result.stdout.splitlines()[-1] == "1 []"
    assert result.stderr.splitlines() == [f"skipped: {tmp_path / 'notes.txt'} (not an image: no image format has "
                                          "the suffix .txt)", f"failed: {tmp_path / 'empty.png'} is empty (0 bytes)."]
    assert not (tmp_path / "out").exists()
