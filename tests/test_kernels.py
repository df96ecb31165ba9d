"""First run: inputs are checked before any engine or numba kernel is loaded; a compile is announced in one line."""

import json
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


def test_every_command_refuses_bad_input_before_loading_anything_heavy(tmp_path):
    """Each refusal is one sentence, and PyTorch, ONNX Runtime, numba and pymatting are still not imported."""
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "set" / "image").mkdir(parents=True)
    (tmp_path / "set" / "alpha").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "set" / "image" / "a.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "set" / "alpha" / "a.png")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "settings.json").write_text('{"protocol": "dim"}')
    t, missing, data = str(tmp_path), str(tmp_path / "missing"), f"folder:{tmp_path / 'set'}"
    cases = {  # command line: the sentence it is refused with
        f"predict {missing}.png --engine gfm": f"{missing}.png does not exist.",
        f"interact {t}/empty.png --prompts {missing}.json": f"{t}/empty.png is empty (0 bytes).",
        f"eval --dataset folder:{missing} --engine default": f"folder dataset folder {missing} does not exist.",
        f"eval --dataset {data} --engine gfm --workers 0": "--workers must be at least 1, not 0.",
        f"eval --dataset {data} --engine interactive --interaction click --protocol dim -o {t}/r":
            f"the dim protocol needs a trimap per image; folder at {t}/set lacks some.",
        f"compose {missing} {t} -o {t}/out": f"foreground folder {missing} does not exist.",
        f"train {missing}.yaml": f"training configuration {missing}.yaml does not exist.",
        f"train {t}/empty.yaml data.train={data} optim.lr=0": "training setting optim.lr must be a number above 0, "
                                                              "not 0.",
        f"train {t}/empty.yaml data.fg={missing}": f"training setting data.fg names {missing}, which does not exist.",
        f"synthesize --prompts {missing}.txt --model m --interpreter i -o {t}/s":
            f"prompts file {missing}.txt does not exist.",
        "serve --workers 0": "--workers must be positive, not 0.",
        f"metrics {t}/empty.png {t}/empty.png": f"{t}/empty.png is empty (0 bytes).",
        f"denoise {missing}": f"background folder {missing} does not exist.",
        f"backgrounds curate {missing} {t}/bg": f"background source folder {missing} does not exist.",
        f"export-onnx {t}/empty.pth -o {t}/x.onnx": f"weights file {t}/empty.pth is empty (0 bytes); fetch it again "
                                                    "or pass the right file.",
        f"export-onnx {missing}.pth -o {t}/x.onnx --size 33 32": "the ONNX input size must be positive multiples of "
                                                                 "32, not 33x32.",
        "demo -o /proc/no/such/folder": "cannot create the output folder /proc/no/such/folder (No such file or "
                                        "directory).",
    }
    code = f"""
import contextlib, io, json, sys
from mattekit.cli import main
for line in {list(cases)!r}:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        main(line.split())
    heavy = sorted(m for m in ("torch", "onnxruntime", "numba", "pymatting") if m in sys.modules)
    print(json.dumps([line, err.getvalue(), heavy]))
"""
    result = run_python(code, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    found = {line: (err, heavy) for line, err, heavy in map(json.loads, result.stdout.splitlines())}
    assert found == {line: (f"mattekit: {sentence}\n", []) for line, sentence in cases.items()}
    # resuming a report with other settings is refused before the engine is built
    code = (f"import sys; from mattekit.cli import main; main('eval --dataset {data} --engine gfm -o {t}/report "
            "--quiet'.split()); print(sorted(m for m in ('torch', 'onnxruntime', 'pymatting') if m in sys.modules))")
    result = run_python(code)
    assert result.stdout == "[]\n"
    assert result.stderr == (f"mattekit: {t}/report holds a run with other settings (dataset=None, not "
                             f"'folder:{(tmp_path / 'set').resolve()}'; engine=None, not 'gfm'; protocol='dim', not "
                             "'gfm'; trimap_input=None, not 'none'); resume with the same settings or choose another "
                             "output folder (-o).\n")
