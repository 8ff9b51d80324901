"""Training-image augmentation: what each change does to real digits."""

import numpy as np
import pytest

from mnist import augment
from mnist.data import load_split


@pytest.fixture(scope="module")
def digits(datafile):
    images, labels = load_split("train", datafile)
    return images[:200], labels[:200]


def test_distort_changes_every_batch_but_keeps_shape_range_and_ink(digits):
    images, _ = digits
    out = augment.distort(images, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    changed = np.abs(out - images).reshape(len(images), -1).max(axis=1) > 0.1
    assert changed.mean() > 0.9
    ink_in, ink_out = images.sum(axis=(1, 2, 3)), out.sum(axis=(1, 2, 3))
    assert np.all(ink_out > 0.25 * ink_in)  # no digit is wiped out
    # the same generator state gives the same batch (resumed runs see the same images)
    again = augment.distort(images, np.random.default_rng(0))
    assert np.array_equal(out, again)


def test_affine_without_change_is_the_identity_and_a_shift_moves_the_ink(digits, monkeypatch):
    images, _ = digits
    for name, value in [("ROTATE_DEG", 0), ("SCALE", (1, 1)), ("ASPECT", 0), ("SHEAR", 0)]:
        monkeypatch.setattr(augment, name, value)
    x = images[:, 0]
    assert np.abs(augment.affine(x, np.random.default_rng(1), 0.0) - x).max() < 1e-6
    moved = augment.affine(x, np.random.default_rng(1), 3.0)
    ys = np.arange(28)
    centre = lambda a: (a.sum(axis=2) * ys).sum(axis=1) / a.sum(axis=(1, 2))  # noqa: E731
    shift = centre(moved) - centre(x)
    assert np.abs(shift).max() <= 3.2 and np.abs(shift).mean() > 0.5


def test_thickness_makes_strokes_thicker_or_thinner(digits):
    images, _ = digits
    x = images[:, 0]
    out = augment.thickness(x, np.random.default_rng(2))
    ink_in, ink_out = (x > 0.5).sum(axis=(1, 2)), (out > 0.5).sum(axis=(1, 2))
    assert (ink_out > ink_in * 1.2).mean() > 0.1   # about a quarter thicker
    assert (ink_out < ink_in * 0.95).mean() > 0.05  # about a fifth thinner
    assert (ink_out == ink_in).mean() > 0.4        # the rest as they were


def test_shift_images_moves_by_whole_pixels_within_the_bound(digits):
    images, _ = digits
    out = augment.shift_images(images, 2, np.random.default_rng(3))
    assert out.shape == images.shape
    padded = np.pad(images[:, 0], ((0, 0), (2, 2), (2, 2)))
    shifts = np.stack([padded[:, dy:dy + 28, dx:dx + 28] for dy in range(5) for dx in range(5)], 1)
    matches = (shifts == out).all(axis=(2, 3))  # [n, 25]: which whole-pixel shifts it equals
    assert matches.any(axis=1).all()
    assert (~matches[:, 12]).mean() > 0.8  # most are moved (index 12: no shift)
