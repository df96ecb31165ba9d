"""Shared fixtures: the real data in ../shared/data, or the folder named by $MATTEKIT_TEST_DATA (tests that need
it are skipped with a reason when it is absent; `make test` lists the skips), two-process training."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SHARED_DATA = Path(os.environ.get("MATTEKIT_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real data is not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def train_with_torchrun(tmp_path):
    """Run ``mattekit train`` on a configuration dict in two processes (torchrun, gloo on the CPU)."""

    def run(config: dict, timeout: int = 600) -> None:
        path = tmp_path / "ddp.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
                   "mattekit", "train", str(path)]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              start_new_session=True) as launcher:
            try:
                _, stderr = launcher.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)  # the launcher and both workers
                raise
        assert launcher.returncode == 0, stderr[-2000:]

    return run
