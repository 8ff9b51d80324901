"""Parameter files and checkpoints from elsewhere are data, never code: every entry point that
reads one refuses a file that would run a command, before the command runs."""

import json
import shutil
import sys

import numpy as np
import paddle
import pytest

from mnist.model import MNIST
from mnist.params import UnsafeFileError, load_params, read_data

from conftest import one_line_error, run, run_module, run_script, write_malicious

REFUSED = "holds something other than parameters"


@pytest.fixture
def evil(tmp_path):
    """(malicious .pdparams, the marker file its code would create)."""
    marker = tmp_path / "code-ran"
    return write_malicious(tmp_path / "evil.pdparams", marker), marker


def test_the_malicious_file_really_runs_code_under_paddle_load(evil):
    """The control: paddle.load, which the project no longer uses for reading, runs it."""
    path, marker = evil
    result = run([sys.executable, "-c", f"import paddle; paddle.load({str(path)!r})"])
    assert marker.exists(), result.stderr  # the command ran, whatever paddle.load said after


def test_predict_refuses_it_before_it_runs(evil, datafile):
    path, marker = evil
    picture = datafile.parent / "examples" / "digit_7.png"
    result = run_script("predict.py", "--model", path, picture)
    assert result.returncode == 2
    one_line_error(result, path, REFUSED, "posix.system")
    assert not marker.exists()


def test_export_refuses_it(evil, datafile, tmp_path):
    path, marker = evil
    result = run_script("export.py", "--params", path, "--out", tmp_path / "export",
                        "--datafile", datafile)
    assert result.returncode == 2
    one_line_error(result, path, REFUSED)
    assert not marker.exists() and not (tmp_path / "export").exists()


@pytest.fixture
def finished_run(tmp_path_factory, datafile):
    from conftest import train_run

    return train_run(tmp_path_factory, datafile, "finished", "--limit", "500", "--epochs", "1",
                     "--seed", "2")


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name not in (".lock", ".owner")}


def test_resume_refuses_a_malicious_checkpoint(finished_run, datafile, tmp_path):
    _result, run_dir, _params = finished_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    marker = tmp_path / "code-ran"
    write_malicious(copy / "checkpoint.pd", marker, checkpoint=True)
    before = snapshot(copy)
    result = run_script("train.py", "--datafile", datafile, "--resume", copy, "--epochs", "2")
    assert result.returncode == 2
    one_line_error(result, copy / "checkpoint.pd", REFUSED)
    assert not marker.exists()
    assert snapshot(copy) == before


def test_the_report_refuses_a_runs_malicious_model(finished_run, datafile, tmp_path):
    _result, run_dir, _params = finished_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    marker = tmp_path / "code-ran"
    write_malicious(copy / "model.pdparams", marker)
    result = run_module("mnist.report", copy, "--datafile", datafile)
    assert result.returncode == 2
    one_line_error(result, copy / "model.pdparams", REFUSED)
    assert not marker.exists()


def test_the_readmes_loading_code_refuses_it(evil):
    path, marker = evil
    with pytest.raises(UnsafeFileError, match=REFUSED):
        MNIST().set_state_dict(load_params(path))
    assert not marker.exists()


@pytest.mark.parametrize("payload, named", [
    ("builtins.eval", "builtins.eval"),          # any global but numpy's and the containers'
    ("object-array", "an array of object"),      # numpy's own classes, but not numbers
    ("self-containing", "nested"),               # a list that contains itself
])
def test_other_things_than_parameters_are_refused(tmp_path, payload, named):
    import pickle

    path = tmp_path / "odd.pdparams"
    if payload == "builtins.eval":
        class Eval:
            def __reduce__(self):
                return (eval, ("1 + 1",))
        data = pickle.dumps({"fc.bias": Eval()})
    elif payload == "object-array":
        data = pickle.dumps({"fc.bias": np.array([1, "two"], dtype=object)})
    else:
        loop = []
        loop.append(loop)
        data = pickle.dumps({"fc.bias": loop})
    path.write_bytes(data)
    with pytest.raises(UnsafeFileError, match=named):
        read_data(path)


def _same(a, b):
    """Equal as paddle.load returns them: the same types, keys, tensor names and values."""
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, paddle.Tensor):
        assert a.name == b.name and a.dtype == b.dtype
        assert np.array_equal(a.numpy(), b.numpy())
    else:
        assert a == b


@pytest.mark.parametrize("protocol", [2, 4])
def test_the_lessons_own_files_load_as_paddle_load_reads_them(tmp_path, protocol):
    """paddle.save(model.state_dict(), path), the lesson's way, and a checkpoint of a model and
    its optimizer: load_params gives what paddle.load gives."""
    paddle.seed(1)
    model = MNIST()
    optimizer = paddle.optimizer.Momentum(
        paddle.optimizer.lr.CosineAnnealingDecay(0.03, T_max=10), parameters=model.parameters())
    model(paddle.rand([2, 1, 28, 28])).mean().backward()
    optimizer.step()
    files = {"lesson.pdparams": model.state_dict(), "optimizer.pdopt": optimizer.state_dict(),
             "checkpoint.pd": {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "position": {"epoch": 1, "history": [{"valid_loss": 0.5}]}}}
    for name, obj in files.items():
        paddle.save(obj, str(tmp_path / name), protocol=protocol)
        _same(load_params(tmp_path / name), paddle.load(str(tmp_path / name)))


def test_a_lesson_style_pdparams_predicts(momentum_run, datafile, tmp_path):
    """A .pdparams written by paddle.save(model.state_dict(), ...) from the lesson's own layers
    (no mnist.params involved) is read by predict.py."""
    _result, _run_dir, params = momentum_run
    model = MNIST()
    model.set_state_dict(paddle.load(str(params)))
    lesson = tmp_path / "lesson.pdparams"
    paddle.save(model.state_dict(), str(lesson))
    picture = datafile.parent / "examples" / "digit_7.png"
    result = run_script("predict.py", "--model", lesson, "--json", picture)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["digit"] == 7
