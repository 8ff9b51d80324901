"""Shared fixtures: the real MNIST files and the lesson's data file built from them once."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def find_mnist_dir() -> Path:
    """$MNIST_DIR, else ../shared/mnist beside the repo (where CI and these machines keep it),
    else Paddle's own download cache (downloaded and md5-checked when online)."""
    from mnist.data import DataError, locate_idx_files

    folder = Path(os.environ.get("MNIST_DIR") or REPO.parent / "shared" / "mnist")
    if (folder / "train-images-idx3-ubyte.gz").is_file():
        return folder
    try:
        return locate_idx_files(None)["train_images"].parent
    except DataError as exc:
        pytest.exit(f"the tests need the real MNIST files: {exc}", returncode=4)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return find_mnist_dir()


@pytest.fixture(scope="session")
def datafile(tmp_path_factory, mnist_dir) -> Path:
    """work/mnist.json.gz built from the real files by the project's own command."""
    work = tmp_path_factory.mktemp("work")
    path = work / "mnist.json.gz"
    result = run_module("mnist.data", "--mnist-dir", mnist_dir, "--datafile", path,
                        "--examples", work / "examples")
    assert result.returncode == 0, result.stderr
    return path


def needs_system(present: bool, what: str) -> None:
    """A test whose system parts (Debian's Chromium, typefaces) are missing: skipped, with the
    README's line that installs them, outside CI; failed in CI, where every test must run."""
    if not present:
        message = (f"needs {what}: the README's `sudo apt-get install chromium ...` line "
                   "installs everything the tests need on Debian")
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)


def needs_typefaces() -> None:
    """Debian's typefaces: DejaVu Sans (typed numbers of the tests) and the families of the
    picture sets (mnist.picturesets.devtest, which --extra-digits types in too)."""
    from mnist.picturesets import devtest

    present = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file() and all(
        devtest.font_files(split) for split in ("dev", "test"))
    needs_system(present, "Debian's typefaces")


def free_port() -> int:
    """A TCP port on loopback that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_module(module, *args, cwd=None, env=None, timeout=900):
    return run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, env=env, timeout=timeout)


def run_script(script, *args, cwd=None, env=None, timeout=900):
    return run([sys.executable, str(REPO / script), *map(str, args)], cwd=cwd, env=env,
               timeout=timeout)


def run(cmd, cwd=None, env=None, timeout=900):
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(cmd, cwd=cwd or REPO, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(result, *fragments):
    """The CLI's failure: a single line on stderr that names each fragment, and no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert str(fragment) in lines[0], lines[0]
    return lines[0]


def train_run(tmp_path_factory, datafile, name, *flags):
    """Run train.py into a fresh run directory; return (result, run dir, params path)."""
    out = tmp_path_factory.mktemp(name)
    run_dir, params = out / "run", out / "mnist.pdparams"
    result = run_script("train.py", "--datafile", datafile, "--run-dir", run_dir,
                        "--save", params, *flags)
    assert result.returncode == 0, result.stderr
    return result, run_dir, params


@pytest.fixture(scope="session")
def momentum_run(tmp_path_factory, datafile):
    """One real epoch on the full train split with momentum: a good model in about a minute."""
    return train_run(tmp_path_factory, datafile, "momentum", "--epochs", "1",
                     "--optimizer", "momentum", "--seed", "1")


class _RunsCode:
    """Pickles as a call of os.system: what a malicious .pdparams holds in place of a tensor."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def write_malicious(path: Path, marker: Path, checkpoint: bool = False) -> Path:
    """A parameters file (or, with checkpoint, a checkpoint.pd) laid out as this project's,
    whose conv1.weight is a pickled command that creates ``marker`` when the file is unpickled."""
    import pickle

    import numpy as np

    state = {"conv1.weight": _RunsCode(f"touch {marker}"),
             "conv1.bias": np.zeros(20, np.float32),
             "fc.weight": np.zeros((980, 10), np.float32), "fc.bias": np.zeros(10, np.float32)}
    if checkpoint:
        state = {"model": state, "optimizer": {}, "position": {"epoch": 1, "batch": 0}}
    path.write_bytes(pickle.dumps(state, protocol=4))
    return path
