"""predict.py on real picture files: agreement with the model, real-world pictures, bad input."""

import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist.data import load_split
from mnist.inference import load_model, predict_arrays
from mnist.pictures import load_input
from mnist.picturesets.synthetic import handwritten, make_set, typed

from conftest import one_line_error, run, run_script


@pytest.fixture(scope="module")
def params(momentum_run):
    return momentum_run[2]


@pytest.fixture(scope="module")
def eval_files(tmp_path_factory, datafile):
    """The first 200 eval digits as 28x28 PNG files, dark on white like the lesson's example."""
    images, labels = load_split("eval", datafile)
    folder = tmp_path_factory.mktemp("eval_digits")
    for i in range(200):
        pixels = np.round(255 * (1 - images[i, 0])).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return folder, images[:200], labels[:200]


def predict_json(*args):
    result = run_script("predict.py", "--json", *args)
    return result, [json.loads(line) for line in result.stdout.splitlines()]


def test_lesson_pipeline_on_files_agrees_with_the_models_batch_predictions(params, eval_files):
    folder, images, _labels = eval_files
    result, rows = predict_json("--params", params, "--preprocess", "lesson", folder)
    assert result.returncode == 0, result.stderr
    batch = predict_arrays(load_model(params), images).argmax(-1)
    assert [r["image"] for r in rows] == [str(folder / f"{i:03d}.png") for i in range(200)]
    assert [r["digit"] for r in rows] == batch.tolist()


def test_mnist_pipeline_on_eval_digit_files(params, eval_files):
    folder, _images, labels = eval_files
    result, rows = predict_json("--params", params, folder)
    assert result.returncode == 0, result.stderr
    accuracy = np.mean([r["digit"] for r in rows] == labels)
    assert accuracy >= 0.95, accuracy


def test_json_rows_have_the_image_as_given_and_ten_probabilities(params, eval_files, tmp_path):
    folder, _images, _labels = eval_files
    given = f"{folder}/../{folder.name}/000.png"
    result, rows = predict_json("--params", params, given)
    assert result.returncode == 0, result.stderr
    (row,) = rows
    assert set(row) == {"image", "digit", "probabilities"} and row["image"] == given
    assert len(row["probabilities"]) == 10 and sum(row["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert row["digit"] == int(np.argmax(row["probabilities"]))


def test_one_picture_prints_the_lessons_line_and_top_k(params, eval_files):
    folder, _images, labels = eval_files
    result = run_script("predict.py", "--params", params, "--top-k", "3", folder / "000.png")
    assert result.returncode == 0, result.stderr
    first, lesson = result.stdout.splitlines()
    assert first.startswith(f"{folder / '000.png'}: {labels[0]} (p=")
    assert first.count("(p=") == 3
    assert lesson == f"本次预测的数字是: {labels[0]}"


def test_real_world_pictures_beat_the_lessons_pipeline(params, tmp_path):
    pictures = make_set(tmp_path / "pictures", count=200, seed=99)
    model = load_model(params)
    truth = np.array([d for _p, d in pictures])
    acc = {}
    for pipeline in ("lesson", "mnist"):
        inputs = np.stack([load_input(p, pipeline) for p, _d in pictures])
        acc[pipeline] = np.mean(predict_arrays(model, inputs).argmax(-1) == truth)
    assert acc["mnist"] >= 0.85 and acc["lesson"] < 0.5, acc


def test_every_kind_of_picture_file(params, tmp_path):
    rng = np.random.default_rng(3)
    glyph = typed(3, rng).resize((120, 120))
    page = Image.new("L", (300, 200), 255)
    page.paste(glyph, (150, 40))
    ink = Image.eval(page, lambda v: 255 - v)
    transparent = Image.new("RGBA", page.size, (20, 20, 120, 0))
    transparent.putalpha(ink)
    big = Image.new("L", (5000, 5200), 235)  # a phone-sized picture, the digit small in a corner
    big.paste(handwritten(3, np.random.default_rng(1), size=600), (3900, 300))
    files = {
        "scan.png": page, "photo.jpg": big.convert("RGB"), "inverted.png": ink,
        "transparent.png": transparent, "cmyk.jpg": page.convert("CMYK"), "anim.gif": page,
        "page.bmp": page, "page.tif": page,
        "gray16.png": Image.fromarray((np.asarray(page, np.uint16) * 257).astype("<u2")),
    }
    for name, image in files.items():
        image.save(tmp_path / name)
    result, rows = predict_json("--params", params, *(tmp_path / n for n in files))
    assert result.returncode == 0, result.stderr
    assert {Path(r["image"]).name: r["digit"] for r in rows} == {n: 3 for n in files}


def _png_header_bomb(path):
    """A small PNG whose header claims 20000x20000 pixels: past Pillow's decompression-bomb limit."""
    Image.new("L", (8, 8), 255).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", 20000, 20000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def test_bad_files_are_named_and_the_rest_still_predicted(params, eval_files, tmp_path):
    folder, _images, labels = eval_files
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("this is not a picture")
    (tmp_path / "truncated.png").write_bytes((folder / "001.png").read_bytes()[:60])
    Image.new("L", (1, 1), 0).save(tmp_path / "dot.png")
    Image.new("L", (64, 64), 255).save(tmp_path / "blank.png")
    _png_header_bomb(tmp_path / "bomb.png")
    (tmp_path / "no-images").mkdir()
    bad = ["empty.png", "notes.png", "truncated.png", "dot.png", "blank.png", "bomb.png",
           "no-images", "missing.png"]
    args = [folder / "000.png", *(tmp_path / b for b in bad), folder / "001.png"]
    result = run_script("predict.py", "--params", params, *args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == len(bad)
    for name in bad:
        assert sum(str(tmp_path / name) + ":" in line for line in errors) == 1, (name, errors)
    out = result.stdout.splitlines()
    assert [line.split(":")[0] for line in out] == [str(folder / "000.png"), str(folder / "001.png")]
    assert out[0].startswith(f"{folder / '000.png'}: {labels[0]} ")


def test_no_parameters_file_says_how_to_train(tmp_path, eval_files):
    folder, _images, _labels = eval_files
    result = run_script("predict.py", "--params", tmp_path / "none.pdparams", folder / "000.png")
    assert result.returncode == 2
    one_line_error(result, tmp_path / "none.pdparams", "python train.py")



def test_a_model_loaded_in_one_thread_predicts_in_another(params):
    """The web app loads a model in one worker thread and predicts in others. Paddle keeps its
    eager/static mode per thread, and a thread other than the one that imported Paddle starts
    in static mode: a fresh process, as the app's is."""
    code = (
        "import sys, threading, numpy as np\n"
        "from mnist.inference import load_predictor\n"
        "got = {}\n"
        "def load(): got['model'] = load_predictor(sys.argv[1])\n"
        "def use(): got['out'] = got['model'].outputs(np.zeros((2, 1, 28, 28), np.float32))\n"
        "for job in (load, use):\n"
        "    t = threading.Thread(target=job); t.start(); t.join()\n"
        "print(got['out'].shape)\n")
    result = run([sys.executable, "-c", code, str(params)])
    assert result.returncode == 0 and result.stdout.strip() == "(2, 10)", result.stderr[-500:]
