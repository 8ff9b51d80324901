"""The picture pipeline on MNIST's own digits written as files, and --save-inputs."""


import numpy as np
import pytest
from PIL import Image

from mnist.data import load_split
from mnist.inference import load_model, predict_arrays
from mnist.pictures import load_input
from mnist.picturesets.mnist_files import POLARITIES, SIZES, read_inputs, write_pictures

from conftest import REPO, run_script


@pytest.fixture(scope="module")
def eval_split(datafile):
    return load_split("eval", datafile)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("polarity", POLARITIES)
def test_all_eval_digits_as_files_score_as_the_arrays(momentum_run, eval_split, tmp_path,
                                                      polarity, size):
    """Every eval digit written as a PNG and read back through the default pipeline: the model's
    accuracy on the files is its accuracy on the arrays, to 0.3 points."""
    images, labels = eval_split
    model = load_model(momentum_run[2])
    on_arrays = np.mean(predict_arrays(model, images).argmax(-1) == labels)
    paths = write_pictures(images, tmp_path, size, polarity)
    inputs = read_inputs(paths, "mnist")
    on_files = np.mean(predict_arrays(model, inputs).argmax(-1) == labels)
    assert abs(on_files - on_arrays) <= 0.003, (on_files, on_arrays)
    if size == 28:  # at MNIST's own size, the pictures come back as they were, to rounding
        close = np.abs(inputs - images).reshape(len(images), -1).max(axis=1) <= 2 / 255 + 1e-6
        assert close.mean() >= 0.93, close.mean()


def test_save_inputs_writes_what_the_network_was_given(momentum_run, eval_split, tmp_path):
    images, _labels = eval_split
    pictures = tmp_path / "pictures"
    paths = write_pictures(images[:3], pictures, 112, "white-on-black")
    page = Image.new("L", (300, 200), 230)  # a small dark digit off-centre on grey paper
    page.paste(Image.fromarray(np.round(255 * (1 - images[3, 0])).astype(np.uint8)).resize((60, 60)),
               (200, 20))
    page.save(pictures / "page.jpg")
    out = tmp_path / "seen"
    result = run_script("predict.py", "--params", momentum_run[2], "--save-inputs", out, pictures)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png", "00002.png",
                                                     "page.png"]
    for path in [*paths, pictures / "page.jpg"]:
        saved = Image.open(out / f"{path.stem}.png")
        assert saved.size == (224, 224) and saved.mode == "L"
        seen = np.asarray(saved, np.float32)[::8, ::8] / 255  # one pixel of each 8x8 block
        assert np.abs(seen - load_input(path)[0]).max() <= 0.5 / 255 + 1e-6


def test_save_inputs_into_a_folder_that_cannot_be_made(momentum_run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_script("predict.py", "--params", momentum_run[2], "--save-inputs",
                        blocker / "sub", REPO / "README.md")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--save-inputs" in lines[0] and "Traceback" not in result.stderr


def test_a_photo_stored_sideways_is_turned_by_its_orientation_tag(eval_split, tmp_path):
    """Phones store the sensor's pixels and an EXIF tag saying how to turn them; the digit is
    read upright (tag 6: turn 90 degrees clockwise to show)."""
    digit = Image.fromarray((255 - 255 * eval_split[0][0].reshape(28, 28)).astype(np.uint8))
    upright = digit.resize((112, 112), Image.Resampling.NEAREST).convert("RGB")
    upright.save(tmp_path / "upright.jpg", quality=95)
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # as the sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(tmp_path / "tagged.jpg", quality=95, exif=exif)
    sideways.save(tmp_path / "untagged.jpg", quality=95)
    reference = load_input(tmp_path / "upright.jpg")
    assert np.abs(load_input(tmp_path / "tagged.jpg") - reference).max() < 0.05
    assert np.abs(load_input(tmp_path / "untagged.jpg") - reference).max() > 0.5
