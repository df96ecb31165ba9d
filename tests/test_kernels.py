"""First run: inputs are checked before any engine or numba kernel is loaded; a compile is announced in one line."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mattekit import kernels

SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC, **env})


def test_an_empty_numba_cache_means_the_kernels_must_be_compiled(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "pymatting", raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not kernels.compiled()
    marker = tmp_path / "some" / "path" / "boxfilter.boxfilter_rows_full-60.py311.nbi"
    marker.parent.mkdir(parents=True)
    marker.write_bytes(b"")
    assert kernels.compiled()


def test_the_notice_is_one_line_before_the_compile():
    assert kernels.NOTICE == "mattekit: compiling numerical kernels; this happens once and takes about a minute."
    result = run_python("import sys; from mattekit import kernels; kernels.compiled = lambda: False; "
                        "kernels.prepare(); print('pymatting' in sys.modules)")
    assert result.stderr == kernels.NOTICE + "\n" and result.stdout == "True\n"


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
