"""Training digits beyond MNIST (``train.py --extra-digits N``): typed and hand-drawn digits,
made from packages and prepared as ``predict.py`` prepares a picture.

Half are typed, in the typeface families of the development set (``devtest.FONT_FAMILIES
["dev"]``, from Debian's font packages) and in the fonts that ship with matplotlib; the test
set's families are never used. Half are drawn by the synthetic hand (``synthetic.handwritten``)
with a seed of their own (the sets that measure use others). Each glyph goes through
``pictures.preprocess_mnist``, so the network learns digits as it will see them. The same N
gives the same digits on any machine with the same packages; they are kept in
``work/extra-digits-N.npz`` beside the data file, and config.json records N.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist.cli import CliError
from mnist.files import atomic_write
from mnist.pictures import preprocess_mnist
from mnist.picturesets.devtest import FONT_PACKAGES, font_files, typed
from mnist.picturesets.synthetic import FONT_DIR, FONTS, handwritten

SEED = 303  # the picture sets that measure use 101, 102, 202, 203, 505, 506


def make(count: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(images float32 [count, 1, 28, 28], labels int64 [count]), digits in turn."""
    fonts = font_files("dev")
    if not fonts:
        raise CliError("--extra-digits types digits in Debian's typefaces; install them: "
                       f"apt-get install {FONT_PACKAGES}")
    fonts += [FONT_DIR / name for name in FONTS]
    rng = np.random.default_rng(seed)
    images = np.empty((count, 1, 28, 28), np.float32)
    labels = np.arange(count, dtype=np.int64) % 10
    for i, digit in enumerate(labels):
        if i % 2:
            glyph = handwritten(int(digit), rng)
        else:
            glyph = typed(int(digit), fonts[rng.integers(len(fonts))], rng)
        images[i] = preprocess_mnist(glyph)
    return images, labels


def load(count: int, datafile) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` extra digits, made once and kept beside ``datafile``."""
    cache = Path(datafile).parent / f"extra-digits-{count}.npz"
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as saved:
            return saved["images"], saved["labels"]
    images, labels = make(count)
    with atomic_write(cache) as f:
        np.savez(f, images=images, labels=labels)
    return images, labels
