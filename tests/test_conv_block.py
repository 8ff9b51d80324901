"""The oneDNN block operator: built once into its cache, reused, and where it cannot be built,
training goes on with Paddle's own ops after one line saying why. (Its outputs and gradients
against the lesson's layers: tests/test_model.py.)"""

import os
import sys

from conftest import REPO, run

LOAD = "from mnist.model import MNIST; print(MNIST(conv='onednn').fast_block is not None)"


def notices(result):
    return [line for line in result.stderr.splitlines() if line.startswith("paddle-mnist:")]


def test_built_at_first_use_then_loaded_from_the_cache(tmp_path):
    env = {"PADDLE_MNIST_CACHE": str(tmp_path)}
    first = run([sys.executable, "-c", LOAD], env=env)
    assert first.returncode == 0 and first.stdout.strip() == "True", first.stderr
    assert len(notices(first)) == 1 and "building the oneDNN convolution operator" in \
        notices(first)[0], first.stderr
    libraries = list(tmp_path.glob("conv_block-*.so"))
    assert len(libraries) == 1 and not list(tmp_path.glob(".build-*")), os.listdir(tmp_path)
    built = libraries[0].stat().st_mtime_ns

    again = run([sys.executable, "-c", LOAD], env=env)
    assert again.returncode == 0 and again.stdout.strip() == "True", again.stderr
    assert notices(again) == [], again.stderr
    assert libraries[0].stat().st_mtime_ns == built


def test_training_without_a_compiler_falls_back_with_one_line(tmp_path, datafile):
    """No compiler on PATH and nothing cached: one notice, then the run trains and saves."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {"PADDLE_MNIST_CACHE": str(tmp_path / "cache"), "PATH": str(empty_bin), "CXX": ""}
    result = run([sys.executable, str(REPO / "train.py"), "--datafile", str(datafile),
                  "--epochs", "1", "--limit", "500", "--run-dir", str(tmp_path / "run"),
                  "--save", str(tmp_path / "m.pdparams")], env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = notices(result)
    assert len(lines) == 1, result.stderr
    assert "no C++ compiler" in lines[0] and "Paddle's own convolutions" in lines[0], lines[0]
    assert (tmp_path / "m.pdparams").is_file()
    assert "eval accuracy" in result.stdout


def test_conv_paddle_never_builds(tmp_path, datafile):
    cache = tmp_path / "cache"
    result = run([sys.executable, str(REPO / "train.py"), "--datafile", str(datafile),
                  "--epochs", "1", "--limit", "300", "--conv", "paddle", "--run-dir",
                  str(tmp_path / "run"), "--save", str(tmp_path / "m.pdparams")],
                 env={"PADDLE_MNIST_CACHE": str(cache)})
    assert result.returncode == 0, result.stderr
    assert notices(result) == [] and not cache.exists()
    assert (tmp_path / "m.pdparams").is_file()


def as_operator(block):
    """``block(x, conv)`` on NCHW tensors, called as the operator is: either side may be
    channels last (x_last, out_last), as the network passes the first block's output on."""
    def operator(x, conv, x_last=False, out_last=False):
        out = block(x.transpose([0, 3, 1, 2]) if x_last else x, conv)
        return out.transpose([0, 2, 3, 1]) if out_last else out

    return operator


def test_an_operator_that_computes_something_else_is_not_used(monkeypatch, capsys, tmp_path):
    """load() checks the operator against Paddle's layers before the network may use it: one
    that disagrees (here: relu left out) is refused with one line, and Paddle's ops are used."""
    import paddle.nn.functional as F

    from mnist import conv_block

    library = tmp_path / "conv_block-test.so"  # "built" already: nothing is compiled here
    library.write_bytes(b"")
    monkeypatch.setattr(conv_block, "_op", None)
    monkeypatch.setattr(conv_block, "library_path", lambda: library)
    monkeypatch.setattr(conv_block, "register",
                        lambda path: as_operator(lambda x, conv: F.max_pool2d(conv(x), 2, 2)))
    assert conv_block.load() is None
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith("paddle-mnist:")]
    assert len(lines) == 1 and "self-check" in lines[0], lines


def test_an_operator_that_fails_as_training_runs_it_is_not_used(monkeypatch, capsys, tmp_path):
    """The check runs the operator as training does, the first block on images that want no
    gradient. One that fails there (as the 0.2.0 operator did on Paddle 3.0.0, in backward) is
    refused with one line at load time, not met as a traceback in the first step."""
    import paddle.nn.functional as F

    from mnist import conv_block

    def refuses_images(x, conv):
        if x.stop_gradient:
            raise ValueError("(InvalidArgument) Custom grad operator's 0-th output is not "
                             "initialized.\n  [more of Paddle's message]")
        return F.max_pool2d(F.relu(conv(x)), 2, 2)

    library = tmp_path / "conv_block-test.so"
    library.write_bytes(b"")
    monkeypatch.setattr(conv_block, "_op", None)
    monkeypatch.setattr(conv_block, "library_path", lambda: library)
    monkeypatch.setattr(conv_block, "register", lambda path: as_operator(refuses_images))
    assert conv_block.load() is None
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith("paddle-mnist:")]
    assert len(lines) == 1, lines
    assert "fails in a training step" in lines[0] and "not initialized" in lines[0], lines[0]
    assert "Paddle's own convolutions" in lines[0], lines[0]
