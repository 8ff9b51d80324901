"""export.py and predict.py --model with each kind of model, on real picture files."""

import json
import sys

import numpy as np
import pytest

from mnist.data import load_split
from mnist.picturesets.mnist_files import write_pictures
from mnist.picturesets.synthetic import make_set

from conftest import REPO, one_line_error, run, run_script


@pytest.fixture(scope="module")
def exported(momentum_run, datafile, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "export"
    result = run_script("export.py", "--params", momentum_run[2], "--out", out,
                        "--datafile", datafile)
    assert result.returncode == 0, result.stderr
    return result, out


@pytest.fixture(scope="module")
def pictures(datafile, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    write_pictures(load_split("eval", datafile)[0][:40], folder, 112, "dark-on-white")
    make_set(folder, count=20, seed=7)  # photos, scans, CMYK, transparent, ... (not from MNIST)
    return folder


def predict_rows(model, folder, env=None):
    result = run([sys.executable, str(REPO / "predict.py"), "--json", "--model", str(model),
                  str(folder)], env=env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_export_writes_both_models_and_checks_them(exported):
    result, out = exported
    assert sorted(p.name for p in out.iterdir()) == ["mnist.json", "mnist.onnx", "mnist.pdiparams"]
    assert "checked against the eager network on 1000 eval digits" in result.stdout
    assert result.stdout.count("same digit for 1000/1000") == 2
    assert not list(out.parent.glob(".export.*"))  # no temporary folder left behind


def test_every_model_kind_predicts_the_same_digits_and_probabilities(momentum_run, exported,
                                                                     pictures):
    _result, out = exported
    reference = predict_rows(momentum_run[2], pictures)
    assert len(reference) == 60
    for model in (out, out / "mnist.json", out / "mnist.onnx"):
        rows = predict_rows(model, pictures)
        assert [r["image"] for r in rows] == [r["image"] for r in reference]
        assert [r["digit"] for r in rows] == [r["digit"] for r in reference], model
        diff = np.abs(np.array([r["probabilities"] for r in rows]) -
                      np.array([r["probabilities"] for r in reference])).max()
        assert diff <= 1e-4, (model, diff)


def test_onnx_model_predicts_where_paddle_cannot_be_imported(momentum_run, exported, pictures,
                                                             tmp_path):
    blocker = tmp_path / "blocker" / "paddle"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('paddle is blocked in this test')\n")
    env = {"PYTHONPATH": f"{blocker.parent}:{REPO}"}
    _result, out = exported
    rows = predict_rows(out / "mnist.onnx", pictures, env=env)
    assert [r["digit"] for r in rows] == [r["digit"] for r in predict_rows(momentum_run[2], pictures)]
    # the blocker works: the .pdparams path, which needs Paddle, fails there
    blocked = run([sys.executable, str(REPO / "predict.py"), "--model", str(momentum_run[2]),
                   str(pictures)], env=env)
    assert blocked.returncode == 2 and "paddle is blocked" in blocked.stderr


def test_export_bad_parameters_give_one_line_and_write_nothing(tmp_path, datafile):
    missing = run_script("export.py", "--params", tmp_path / "none.pdparams",
                         "--out", tmp_path / "out", "--datafile", datafile)
    assert missing.returncode == 2
    one_line_error(missing, tmp_path / "none.pdparams", "python train.py")
    damaged = tmp_path / "damaged.pdparams"
    damaged.write_bytes(b"\x80\x04 this is not a parameters file")
    result = run_script("export.py", "--params", damaged, "--out", tmp_path / "out",
                        "--datafile", datafile)
    assert result.returncode == 2
    one_line_error(result, damaged)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.pdparams"]


def test_export_into_a_folder_that_cannot_be_written(momentum_run, tmp_path, datafile):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_script("export.py", "--params", momentum_run[2], "--out", blocker / "export",
                        "--datafile", datafile)
    assert result.returncode == 2
    one_line_error(result, blocker / "export")


def test_a_failed_export_leaves_the_previous_one_as_it_was(exported, tmp_path, datafile):
    _result, out = exported
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.pdparams"
    bad.write_text("not parameters")
    result = run_script("export.py", "--params", bad, "--out", out, "--datafile", datafile)
    assert result.returncode == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(out.parent.glob(".export.*"))


def _wrong_onnx(path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 784])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 784])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "not-mnist", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(path))


def _wrong_inference_model(prefix):
    import paddle
    from paddle.static import InputSpec

    paddle.jit.save(paddle.nn.Linear(784, 3), str(prefix),
                    input_spec=[InputSpec([None, 784], "float32")])


def test_models_that_are_not_this_network_are_refused_in_one_line(tmp_path, pictures):
    _wrong_onnx(tmp_path / "other.onnx")
    _wrong_inference_model(tmp_path / "other")
    (tmp_path / "garbage.onnx").write_bytes(b"not onnx at all")
    for model in ("other.onnx", "other.json", "garbage.onnx"):
        result = run_script("predict.py", "--model", tmp_path / model, pictures / "00000.png")
        assert result.returncode == 2, (model, result.stderr)
        one_line_error(result, tmp_path / model)


def test_many_pictures_are_predicted_in_batches_as_they_are_read(exported, pictures, tmp_path):
    """Past PARALLEL_FROM pictures, workers read them and the model runs on each STREAM_BATCH
    as it arrives: every picture in order, with the probabilities of one run over them all,
    and unreadable files named, not predicted."""
    from mnist.inference import load_predictor, predict_arrays
    from mnist.pictures import load_input
    from mnist.prediction import PARALLEL_FROM, STREAM_BATCH

    files = sorted(pictures.iterdir())
    for copy in range(4):
        for path in files:
            (tmp_path / f"{copy}-{path.name}").write_bytes(path.read_bytes())
    (tmp_path / "2-zz-broken.png").write_bytes(b"not a picture")
    good = sorted(p for p in tmp_path.iterdir() if "broken" not in p.name)
    assert len(good) > 2 * STREAM_BATCH and len(good) % STREAM_BATCH and len(good) > PARALLEL_FROM

    _result, out = exported
    result = run([sys.executable, str(REPO / "predict.py"), "--json", "--model",
                  str(out / "mnist.onnx"), str(tmp_path)])
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"predict.py: {tmp_path / '2-zz-broken.png'}: "
                                          "not an image file Pillow can read"]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["image"] for r in rows] == [str(p) for p in good]

    inputs = np.stack([load_input(p) for p in good])
    expected = predict_arrays(load_predictor(out / "mnist.onnx"), inputs, batch=len(inputs))
    got = np.array([r["probabilities"] for r in rows])
    assert np.abs(got - expected).max() <= 1e-5
    assert [r["digit"] for r in rows] == expected.argmax(-1).tolist()
