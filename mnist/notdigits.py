"""Training pictures that are not one digit (``train.py --not-digits N``), labelled UNSURE.

``predict.py --number`` cuts a mark of touching digits in several ways and keeps the reading
the network is surest of. A network trained on single digits only is sure of everything: it
reads two digits squeezed into one input, or half of a digit, as some digit with p = 0.95, and
the wrong cut wins. These pictures teach it to be unsure there (training pulls their ten
probabilities toward 1/10 each, ``losses.LossKind.training_loss``), made from the training
digits themselves, as the reader sees such parts:

* a pair: two digits side by side, touching or overlapping a little, read as one;
* a part: a digit cut through, its left or its right side alone;
* an overcut: a pair cut through one of its digits, that digit's part with the other digit.

Each goes through ``pictures.digit_input`` as a mark of a number does. The same N and training
digits give the same pictures.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from mnist.pictures import ImageError, digit_input

UNSURE = 10    # the label of a picture that is not one digit
SEED = 404     # the picture sets that measure use 101, 102, 202, 203, 505, 506; extra digits 303
HEIGHT = 56    # pixels of a digit in the pairs (MNIST's 20 scaled up)
KINDS = ("pair", "part", "overcut")


def glyph(image: np.ndarray, height: int) -> np.ndarray:
    """A 28x28 input's ink, cropped to it and scaled to ``height`` pixels tall."""
    ink = image.reshape(28, 28)
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.1), np.flatnonzero(ink.max(axis=0) > 0.1)
    crop = np.ascontiguousarray(ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], np.float32)
    width = max(1, round(crop.shape[1] * height / crop.shape[0]))
    return np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR))


def pair(a: np.ndarray, b: np.ndarray, rng) -> tuple[np.ndarray, int, int]:
    """(ink of ``a`` and ``b`` side by side, touching or overlapping by up to a sixth of their
    height; the column where ``b`` starts; ``a``'s width)."""
    ga = glyph(a, int(HEIGHT * rng.uniform(0.9, 1.05)))
    gb = glyph(b, int(HEIGHT * rng.uniform(0.9, 1.05)))
    start = max(1, ga.shape[1] + int(HEIGHT * rng.uniform(-0.18, 0.0)))
    ya, yb = (int(rng.integers(0, HEIGHT // 12 + 1)) for _ in range(2))
    ink = np.zeros((HEIGHT + HEIGHT // 6, max(ga.shape[1], start + gb.shape[1])), np.float32)
    for g, y, x in ((ga, ya, 0), (gb, yb, start)):  # the darker ink wins where they overlap
        region = ink[y:y + g.shape[0], x:x + g.shape[1]]
        np.maximum(region, g, out=region)
    return ink, start, ga.shape[1]


def not_a_digit(images: np.ndarray, kind: str, rng) -> np.ndarray:
    """The ink of one picture of ``kind`` made from two of ``images`` (28x28 digit inputs)."""
    a, b = images[rng.integers(len(images), size=2)]
    if kind == "part":
        ink = glyph(a, HEIGHT)
        if ink.shape[1] < 0.45 * HEIGHT:  # a 1's half is still a 1: cut wider digits only
            return ink[:, :0]
        cut = int(ink.shape[1] * rng.uniform(0.3, 0.7))
        return ink[:, :cut] if rng.random() < 0.5 else ink[:, cut:]
    ink, start, width = pair(a, b, rng)
    if kind == "pair":
        return ink
    if rng.random() < 0.5:  # through the left digit: its right side and the whole right one
        return ink[:, int(width * rng.uniform(0.3, 0.7)):]
    end = ink.shape[1]
    return ink[:, :start + int((end - start) * rng.uniform(0.3, 0.7))]


def make(count: int, images: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(inputs float32 [count, 1, 28, 28], labels UNSURE [count]) from the training digits
    ``images``; the kinds in turn."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, 1, 28, 28), np.float32)
    n = 0
    while n < count:
        ink = not_a_digit(images, KINDS[n % len(KINDS)], rng)
        if ink.shape[1] < 2:  # nothing to cut
            continue
        try:
            out[n] = digit_input(ink)
        except ImageError:  # a part with no ink worth the name
            continue
        n += 1
    return out, np.full(count, UNSURE, np.int64)
