"""The trained models shipped with the package: each scores its card's eval accuracy; a fresh
install with no work/ predicts a picture and reads a number with the robust one and says so; a
user's own model always wins; the shipped files are read as data only; the wheel carries them."""

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from mnist import shipped
from mnist.data import load_split, write_examples
from mnist.inference import load_predictor, predict_arrays
from mnist.losses import accuracy

from conftest import REPO, one_line_error, run_script, write_malicious

CARD_KEYS = {"name", "file", "sha256", "command", "seed", "loss", "version", "commit", "date",
             "machine", "eval_accuracy", "best_valid_accuracy", "train_seconds", "figures",
             "figures_measured_on"}


def test_three_models_ship_each_with_a_complete_card():
    assert set(shipped.available()) == {"lesson", "mse", "robust"}
    for name, path in shipped.available().items():
        card = shipped.card(name)
        assert CARD_KEYS <= set(card), (name, CARD_KEYS - set(card))
        assert card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), name
        # the picture figures were measured on this very file, not on an earlier one
        assert card["figures_measured_on"] == card["sha256"], name
        assert card["command"].startswith("python train.py") and "--seed 1" in card["command"]
        assert path.stat().st_size < 200_000


@pytest.mark.parametrize("name", shipped.NAMES)
def test_each_shipped_model_scores_its_cards_eval_accuracy(name, datafile):
    images, labels = load_split("eval", datafile)
    model = load_predictor(shipped.path(name))  # the data-only loader of any .pdparams
    measured = accuracy(predict_arrays(model, images), labels)
    assert round(100 * measured, 2) == round(100 * shipped.card(name)["eval_accuracy"], 2)


@pytest.fixture(scope="module")
def pictures(datafile, tmp_path_factory):
    """A 7 and a number 307, as picture files made from MNIST's eval digits."""
    folder = tmp_path_factory.mktemp("pictures")
    digits = write_examples(datafile, folder / "digits")
    row = [Image.open(digits[d]).convert("L") for d in (3, 0, 7)]
    number = Image.new("L", (112 * 3 + 80, 160), 255)
    for k, im in enumerate(row):
        number.paste(im, (40 + 112 * k, 24))
    number.save(folder / "number-307.png")
    return digits[7], folder / "number-307.png"


def test_a_fresh_install_predicts_with_the_shipped_model_and_says_so(tmp_path, pictures):
    seven, number = pictures
    result = run_script("predict.py", seven, cwd=tmp_path)  # no work/ here
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{seven}: 7 "), result.stdout
    note = one_line_error(result, "no work/mnist.pdparams", "robust model shipped",
                          f"{100 * shipped.card('robust')['eval_accuracy']:.2f}%",
                          "train your own with `python train.py`")
    assert "error" not in note
    result = run_script("predict.py", "--number", number, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{number}: 307 "), result.stdout
    one_line_error(result, "no work/robust.pdparams", "robust model shipped",
                   "`python train.py --preset robust`")


def test_a_users_own_model_wins_over_the_shipped_one(tmp_path, pictures):
    seven, _number = pictures
    (tmp_path / "work").mkdir()
    # the user's own file: here a square-error model, whose line shows a value, not p
    shutil.copyfile(shipped.path("mse"), tmp_path / "work" / "mnist.pdparams")
    result = run_script("predict.py", seven, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "(value=" in result.stdout, result.stdout
    # a model named on the command line that does not exist is an error, never a fallback
    result = run_script("predict.py", "--model", tmp_path / "none.pdparams", seven, cwd=tmp_path)
    assert result.returncode == 2
    one_line_error(result, "none.pdparams", "python train.py")


def test_export_falls_back_to_the_shipped_model(tmp_path, datafile):
    result = run_script("export.py", "--out", tmp_path / "export", "--datafile", datafile,
                        "--check", "200", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "using the robust model shipped with the package" in result.stderr
    assert (tmp_path / "export" / "mnist.json").is_file()


def test_the_app_lists_the_shipped_models_after_the_users(tmp_path):
    from mnist.app import Models, find_models, predict_image

    work = tmp_path / "work"
    work.mkdir()
    assert list(find_models(work)) == ["robust (shipped)", "lesson (shipped)", "mse (shipped)"]
    shutil.copyfile(shipped.path("lesson"), work / "mnist.pdparams")
    assert list(find_models(work))[:2] == ["mnist.pdparams", "robust (shipped)"]
    seven = Image.new("L", (200, 200), 255)
    seven.paste(0, (50, 40, 150, 55))   # the bar of a 7
    for y in range(55, 170):            # its stroke, down and to the left
        x = 140 - (y - 55) // 2
        seven.paste(0, (x - 7, y, x + 7, y + 1))
    message, probs, _seen = predict_image(Models(work), "robust (shipped)", seven)
    assert message.startswith("## Prediction: 7"), message


def test_a_shipped_file_is_read_as_data_only(tmp_path, monkeypatch, pictures):
    """The fallback goes through the same data-only loader as any file from elsewhere."""
    from mnist import prediction

    marker = tmp_path / "ran"
    folder = tmp_path / "models"
    folder.mkdir()
    write_malicious(folder / "robust.pdparams", marker)
    shutil.copyfile(shipped.FOLDER / "robust.json", folder / "robust.json")
    monkeypatch.setattr(shipped, "FOLDER", folder)
    monkeypatch.chdir(tmp_path)
    assert prediction.main([str(pictures[0])]) == 2
    assert not marker.exists()


def test_the_wheel_carries_the_models_and_their_cards(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        "work", ".git", "build", "*.egg-info", "__pycache__", ".pytest_cache", "notebooks"))
    # built as pip builds it on install: in an isolated environment with the build backend
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                             "-w", str(tmp_path / "dist"), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("paddle_mnist-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in shipped.NAMES:
        assert f"mnist/models/{name}.pdparams" in names and f"mnist/models/{name}.json" in names
    assert json.loads(zipfile.ZipFile(wheel).read("mnist/models/robust.json"))["name"] == "robust"
    assert np.isfinite(shipped.card("robust")["eval_accuracy"])
