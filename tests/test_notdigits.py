"""Training pictures that are not one digit (--not-digits): made the same each time, and a
network trained with them is unsure of such pictures while it still reads digits."""

import json

import numpy as np
import pytest

from mnist.data import load_split
from mnist.inference import load_predictor, predict_arrays
from mnist.notdigits import HEIGHT, KINDS, UNSURE, glyph, make, not_a_digit, pair

from conftest import train_run


def test_not_digits_are_made_the_same_each_time(datafile):
    images, _labels = load_split("valid", datafile)
    inputs, labels = make(30, images[:500])
    again, _ = make(30, images[:500])
    assert np.array_equal(inputs, again) and inputs.shape == (30, 1, 28, 28)
    assert (labels == UNSURE).all()
    assert (inputs.reshape(30, -1).max(axis=1) > 0.5).all()  # every one holds ink
    ink, start, width = pair(images[0], images[1], np.random.default_rng(0))
    assert width - 0.18 * HEIGHT <= start <= width  # the right digit touches or overlaps
    assert ink.shape[1] > width and (ink[:, :start].sum() > 0) and (ink[:, width:].sum() > 0)
    part = not_a_digit(images[:1], "part", np.random.default_rng(1))
    assert part.shape[0] == HEIGHT and 0 < part.shape[1] < glyph(images[0], HEIGHT).shape[1]
    assert set(KINDS) == {"pair", "part", "overcut"}


@pytest.fixture(scope="module")
def unsure_run(tmp_path_factory, datafile):
    """The same epoch as conftest's momentum_run, with 6000 not-digits beside the digits."""
    return train_run(tmp_path_factory, datafile, "unsure", "--epochs", "1",
                     "--optimizer", "momentum", "--seed", "1", "--not-digits", "6000")


def test_a_network_trained_with_not_digits_is_unsure_of_them(unsure_run, momentum_run,
                                                              datafile):
    result, run_dir, params = unsure_run
    assert "training on 56000 images" in result.stdout
    config = json.loads((run_dir / "config.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    # measured: 0.976, and 0.9765 for the same epoch without them
    assert config["not_digits"] == 6000 and summary["eval_accuracy"] >= 0.97
    eval_images, _labels = load_split("eval", datafile)
    unseen, _ = make(600, eval_images[:2000], seed=7)  # from digits it never trained on
    unsure, plain = load_predictor(params), load_predictor(momentum_run[2])
    sure_of = lambda model, x: predict_arrays(model, x).max(axis=1).mean()  # noqa: E731
    # measured: 0.47 against 0.71 for the same epoch without them
    assert sure_of(unsure, unseen) <= sure_of(plain, unseen) - 0.15
    # still sure of the digits themselves (measured: 0.90, after one epoch)
    assert sure_of(unsure, eval_images[:2000]) >= 0.85
