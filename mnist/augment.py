"""Random changes to training images, a whole batch at a time in numpy.

``shift_images``: whole-pixel shifts (``--augment PIXELS``).
``distort``: the ways real digits differ from MNIST's (``--distort``, in ``--preset robust``):
stroke thickness, a random affine change (rotation, scale, aspect, shear, shift), blur and
contrast. Each is vectorised over the batch; ``benchmarks/augment_cost.py`` measures the cost
against a training step. Images are float32 [N, 1, 28, 28], ink = 1, background = 0.
"""

from __future__ import annotations

import numpy as np

SIZE = 28
ROTATE_DEG = 15      # rotation in [-15, 15] degrees
SCALE = (0.8, 1.12)  # overall size
ASPECT = 0.12        # width / height changes by up to 12% either way
SHEAR = 0.3          # slant: x += SHEAR * y at most, either way
P_THICKER, P_THINNER, P_BLUR, P_FAINT = 0.25, 0.2, 0.25, 0.5
CONTRAST = (0.6, 1.0)  # a faint image's ink darkness, as a fraction


def shift_images(images: np.ndarray, max_shift: int, rng) -> np.ndarray:
    """Translate each image by a random whole number of pixels in [-max_shift, max_shift]."""
    n = len(images)
    padded = np.pad(images, ((0, 0), (0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(SIZE)[None, :]        # [n, 28]
    cols = dx[:, None] + np.arange(SIZE)[None, :]
    return padded[np.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]


def _neighbours(x: np.ndarray) -> list[np.ndarray]:
    """The 4-neighbour shifts of images [N, 28, 28], zero outside."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    return [p[:, 1:-1, :-2], p[:, 1:-1, 2:], p[:, :-2, 1:-1], p[:, 2:, 1:-1]]


def thickness(x: np.ndarray, rng) -> np.ndarray:
    """Some images' strokes one pixel thicker (grey dilation), some thinner (erosion)."""
    n = len(x)
    near = _neighbours(x)
    thicker = np.maximum(x, np.max(near, axis=0) * 0.8)  # a softer edge than a plain max
    thinner = 0.5 * (x + np.minimum(x, np.min(near, axis=0)))  # half an erosion
    u = rng.random(n)[:, None, None]
    return np.where(u < P_THICKER, thicker, np.where(u < P_THICKER + P_THINNER, thinner, x))


def affine(x: np.ndarray, rng, max_shift: float) -> np.ndarray:
    """A random rotation, scale, aspect change, shear and shift per image, sampled bilinearly
    about the image's centre."""
    n = len(x)
    angle = np.radians(rng.uniform(-ROTATE_DEG, ROTATE_DEG, n))
    scale = rng.uniform(*SCALE, n)
    aspect = np.exp(rng.uniform(-ASPECT, ASPECT, n))
    shear = rng.uniform(-SHEAR, SHEAR, n)
    shift = rng.uniform(-max_shift, max_shift, (2, n))
    # Forward map A = R(angle) @ Shear @ diag(scale * aspect, scale / aspect); sample the source
    # at A^-1 (output - centre - shift) + centre.
    cos, sin = np.cos(angle), np.sin(angle)
    sx, sy = scale * aspect, scale / aspect
    a = np.stack([np.stack([cos * sx, (cos * shear - sin) * sy], -1),
                  np.stack([sin * sx, (sin * shear + cos) * sy], -1)], -2)  # [n, 2, 2] on (x, y)
    inv = np.linalg.inv(a).astype(np.float32)
    c = (SIZE - 1) / 2
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    out_xy = np.stack([xs.ravel() - c, ys.ravel() - c])[None] - shift.T[:, :, None].astype(np.float32)
    src = inv @ out_xy + (c + 1)  # [n, 2, 784], in the coordinates of the padded images
    src = np.clip(src, 0, SIZE + 1)  # out of range reads the zero border: paper
    x0, y0 = np.floor(src[:, 0]), np.floor(src[:, 1])
    fx, fy = src[:, 0] - x0, src[:, 1] - y0
    w = SIZE + 3
    flat = np.pad(x, ((0, 0), (1, 2), (1, 2))).reshape(-1)
    at = (np.arange(n)[:, None] * (w * w) + y0.astype(np.int64) * w + x0.astype(np.int64))
    top = flat[at] * (1 - fx) + flat[at + 1] * fx
    bottom = flat[at + w] * (1 - fx) + flat[at + w + 1] * fx
    return (top * (1 - fy) + bottom * fy).reshape(n, SIZE, SIZE)


def blur(x: np.ndarray, rng) -> np.ndarray:
    """Some images blurred by a 3x3 binomial filter."""
    near = _neighbours(x)
    soft = 0.5 * x + 0.125 * sum(near)
    return np.where(rng.random(len(x))[:, None, None] < P_BLUR, soft, x)


def distort(images: np.ndarray, rng, max_shift: float = 2.0) -> np.ndarray:
    """Thickness, affine change, blur and contrast, at random per image: float32 [N, 1, 28, 28]
    in [0, 1], the labels unchanged."""
    x = images[:, 0]
    x = thickness(x, rng)
    x = affine(x, rng, max_shift)
    x = blur(x, rng)
    faint = rng.random(len(x)) < P_FAINT
    x = x * np.where(faint, rng.uniform(*CONTRAST, len(x)), 1.0).astype(np.float32)[:, None, None]
    return np.clip(x, 0, 1).astype(np.float32)[:, None]
