"""keep_freed_memory: repeated network passes stop costing page faults (glibc only)."""

import subprocess
import sys

import pytest

from mattekit.memory import keep_freed_memory

# six passes of a small network with 10-20 MB activations; prints the page faults of each pass
SCRIPT = """
import resource, sys
import torch
from mattekit.memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
net = torch.nn.Sequential(torch.nn.Conv2d(8, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.Upsample(scale_factor=2))
x = torch.rand(1, 8, 200, 200)
with torch.inference_mode():
    for _ in range(6):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.cat([net(x), net(x)], 1)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults_per_pass(mode: str) -> list[int]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True).stdout
    return [int(n) for n in out.split()]


def test_repeated_passes_reuse_memory_without_page_faults():
    if not keep_freed_memory():
        pytest.skip("the C library is not glibc")
    assert min(faults_per_pass("default")[2:]) > 10_000  # fresh 4 KiB pages for every large tensor
    assert min(faults_per_pass("keep")[2:]) < 1_000
