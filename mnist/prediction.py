"""``python predict.py IMAGE [IMAGE ...]``: the digit in each picture, with probabilities.

Two ways to turn a picture into the network's 28x28 input:

* ``lesson``: the lesson's steps: grayscale, resize to 28x28, ``1 - x / 255``. Right only for a
  picture that already looks like an MNIST digit (a dark, centred digit filling a white square).
* ``mnist`` (default): what MNIST's own preparation did, so that real pictures work: find which
  of ink and background is dark, even out the background, crop to the ink, scale it to fit a
  20x20 box keeping its aspect ratio, and centre it by its centre of mass in 28x28.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm"}
WORK_SIZE = 512      # pictures are analysed at most this large (longer side)
BOX, CANVAS = 20, 28  # MNIST: the digit fits a 20x20 box, centred by mass in 28x28


class ImageError(Exception):
    """A picture that cannot be read or holds no digit; the message says why."""


# ----------------------------------------------------------------------------------------------
# Reading any picture as grayscale floats in [0, 1] (0 = black, 1 = white)
# ----------------------------------------------------------------------------------------------

def open_image(path) -> Image.Image:
    """Open and fully decode a picture (the first frame of an animation)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.draft("L", (WORK_SIZE, WORK_SIZE))  # JPEG: decode at reduced size, much faster
            image.seek(0)
            image.load()
    except Image.DecompressionBombError as exc:
        raise ImageError(f"too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not an image file Pillow can read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"damaged or truncated image ({exc})") from exc
    if image.width < 2 or image.height < 2:
        raise ImageError(f"image is only {image.width}x{image.height} pixels")
    return ImageOps.exif_transpose(image)  # phone photos: honour the orientation tag


def to_gray(image: Image.Image) -> np.ndarray:
    """Grayscale float32 array in [0, 1]. A transparent background is taken as paper: ink drawn
    on nothing is composed onto a background of the opposite brightness."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(image, dtype=np.float64)
        hi = 65535.0 if image.mode.startswith("I;16") or a.max() > 255 else 255.0
        return (np.clip(a, 0, hi) / hi).astype(np.float32)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255
        gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255
        if alpha.min() < 0.5:  # there is a transparent background
            opaque = alpha > 0.5
            ink_is_dark = gray[opaque].mean() < 0.5 if opaque.any() else True
            paper = 1.0 if ink_is_dark else 0.0
            return alpha * gray + (1 - alpha) * paper
        return gray
    return np.asarray(image.convert("L"), dtype=np.float32) / 255  # CMYK, RGB, 1, L, ...


# ----------------------------------------------------------------------------------------------
# The two preprocessing pipelines: picture -> float32 [1, 28, 28], ink = 1, background = 0
# ----------------------------------------------------------------------------------------------

def preprocess_lesson(image: Image.Image) -> np.ndarray:
    """The lesson's steps, exactly (Pillow 10 removed ANTIALIAS; LANCZOS is the same filter)."""
    im = image.convert("L").resize((CANVAS, CANVAS), Image.Resampling.LANCZOS)
    return (1.0 - np.asarray(im, dtype=np.float32).reshape(1, CANVAS, CANVAS) / 255).astype(np.float32)


def _surface(gray: np.ndarray, below_only: bool) -> np.ndarray:
    """A smooth quadratic surface fitted to the picture on a coarse grid: the paper and its
    uneven lighting. With ``below_only`` the fit is refined on the pixels that are not darker
    than it, so it follows the paper under dark ink (ink is dark and sparse)."""
    h, w = gray.shape
    step = -(-max(h, w) // 48)  # a grid of at most 48x48 points is plenty for a smooth surface

    def basis(y, x):  # quadratic terms of coordinates normalised to [-0.5, 0.5]
        return [np.ones_like(x * y), x, y, x * x, y * y, x * y]

    gy = (np.arange(0, h, step, dtype=np.float32) / h - 0.5)[:, None]
    gx = (np.arange(0, w, step, dtype=np.float32) / w - 0.5)[None, :]
    coarse = np.stack([t.reshape(-1) for t in np.broadcast_arrays(*basis(gy, gx))], -1)
    values = gray[::step, ::step].reshape(-1)
    keep = np.ones_like(values, dtype=bool)
    for _ in range(4 if below_only else 1):
        b = coarse[keep]  # least squares by the 6x6 normal equations (lstsq's SVD is slower)
        coef = np.linalg.solve(b.T @ b + 1e-6 * np.eye(6), b.T @ values[keep])
        fit = coarse @ coef
        spread = np.std(values[keep] - fit[keep]) + 1e-3
        keep = values > fit - 2 * spread
    y = (np.arange(h, dtype=np.float32) / h - 0.5)[:, None]
    x = (np.arange(w, dtype=np.float32) / w - 0.5)[None, :]
    return sum(float(c) * t for c, t in zip(coef, basis(y, x))).astype(np.float32)


def _box3(a: np.ndarray) -> np.ndarray:
    """3x3 mean filter: removes single-pixel noise before looking for the strongest ink."""
    p = np.pad(a, 1, mode="edge")
    h, w = a.shape
    return sum(p[i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] per pixel, whichever of ink and background is dark."""
    residual = _box3(gray - _surface(gray, below_only=False))
    if residual.max() > -residual.min():  # the strongest departure from the paper is light
        gray = 1.0 - gray                 # light ink on a dark ground: work on the negative
    ink = np.clip(_surface(gray, below_only=True) - gray, 0, None)
    top = _box3(ink).max()
    if top < 0.05:
        raise ImageError("no digit found (the picture is nearly uniform)")
    floor = 0.25  # of the strongest ink: below it is paper texture and noise
    return np.clip((ink / top - floor) / (1 - floor), 0, 1)


def preprocess_mnist(image: Image.Image) -> np.ndarray:
    """MNIST's own preparation, applied to any picture: see the module's docstring."""
    if max(image.size) > WORK_SIZE:
        image = image.copy()
        image.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BOX)
    ink = ink_map(to_gray(image))
    mask = _box3(ink) > 0.4
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        raise ImageError("no digit found")
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.LANCZOS))
    small = np.clip(small, 0, None)
    small = small / max(small.max(), 1e-6)
    # centre of mass to the centre of the 28x28 canvas, as MNIST did
    total = small.sum()
    cy = (small.sum(axis=1) * np.arange(small.shape[0])).sum() / total
    cx = (small.sum(axis=0) * np.arange(small.shape[1])).sum() / total
    top = int(round(CANVAS / 2 - 0.5 - cy))
    left = int(round(CANVAS / 2 - 0.5 - cx))
    top = min(max(top, 0), CANVAS - small.shape[0])
    left = min(max(left, 0), CANVAS - small.shape[1])
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    return canvas.reshape(1, CANVAS, CANVAS)


PIPELINES = {"mnist": preprocess_mnist, "lesson": preprocess_lesson}


def load_input(path, pipeline: str = "mnist") -> np.ndarray:
    """A picture file -> the network's input, float32 [1, 28, 28]."""
    return PIPELINES[pipeline](open_image(path))


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------

def load_model(params_path):
    """The network with the saved parameters; 10 outputs or 1 (a ``--loss mse`` model)."""
    import paddle

    from mnist.model import MNIST

    state = paddle.load(str(params_path))
    model = MNIST(num_outputs=int(state["fc.weight"].shape[1]))
    model.set_state_dict(state)
    model.eval()
    return model


def predict_arrays(model, inputs: np.ndarray, batch: int = 500) -> np.ndarray:
    """Model outputs for inputs [N, 1, 28, 28]: probabilities [N, 10], or values [N, 1]."""
    import paddle
    import paddle.nn.functional as F

    outs = []
    with paddle.no_grad():
        for i in range(0, len(inputs), batch):
            out = model(paddle.to_tensor(inputs[i:i + batch]))
            outs.append((F.softmax(out, axis=-1) if out.shape[-1] > 1 else out).numpy())
    return np.concatenate(outs) if outs else np.zeros((0, 10), np.float32)


# ----------------------------------------------------------------------------------------------
# python predict.py
# ----------------------------------------------------------------------------------------------

PARALLEL_FROM = 64  # pictures; from this many on they are read in worker processes


def _read_one(job):
    """(input array, None) or (None, reason) for one picture; never raises."""
    path, pipeline = job
    try:
        return load_input(path, pipeline), None
    except ImageError as exc:
        return None, str(exc)
    except MemoryError:
        return None, "too large to decode in memory"
    except Exception as exc:  # a decoder failing in an unforeseen way must not stop the batch
        return None, f"cannot read it ({exc.__class__.__name__}: {exc})"


def expand_paths(args: list[str], errors: list[tuple[str, str]]) -> list[str]:
    """Files as given; a folder stands for the image files in it (sorted)."""
    paths = []
    for arg in args:
        if os.path.isdir(arg):
            found = sorted(str(p) for p in Path(arg).iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                errors.append((arg, "folder holds no image files"))
            paths.extend(os.path.join(arg, os.path.basename(p)) for p in found)
        elif not os.path.exists(arg):
            errors.append((arg, "no such file"))
        else:
            paths.append(arg)
    return paths


def build_parser():
    p = argparse.ArgumentParser(prog="predict.py",
                                description="Predict the digit in each picture.")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="picture files (PNG, JPEG, BMP, GIF, ...) or folders of them")
    p.add_argument("--params", default="work/mnist.pdparams",
                   help="trained parameters (work/mnist.pdparams, written by train.py)")
    p.add_argument("--preprocess", choices=sorted(PIPELINES), default="mnist",
                   help="mnist (default: crop, scale and centre like MNIST) or lesson "
                        "(the lesson's plain resize)")
    p.add_argument("--top-k", type=int, default=1, metavar="K",
                   help="show the K most probable digits")
    p.add_argument("--json", action="store_true",
                   help='JSON Lines: {"image", "digit", "probabilities"} per image')
    return p


def format_line(path: str, probs: np.ndarray, digit: int, k: int) -> str:
    if probs.shape[-1] == 1:  # a square-error model: a value, not probabilities
        return f"{path}: {digit} (value={probs[0]:.2f})"
    order = np.argsort(-probs)[:k]
    return f"{path}: " + ", ".join(f"{d} (p={probs[d]:.2f})" for d in order)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.top_k < 1 or args.top_k > 10:
        print(f"predict.py: error: --top-k must be between 1 and 10, not {args.top_k}",
              file=sys.stderr)
        return EXIT_USAGE
    if not os.path.isfile(args.params):
        print(f"predict.py: error: no trained parameters at {args.params}; train a model first "
              f"with `python train.py` (or pass --params PATH)", file=sys.stderr)
        return EXIT_USAGE

    errors: list[tuple[str, str]] = []
    paths = expand_paths(args.images, errors)
    jobs = [(path, args.preprocess) for path in paths]
    pool = None
    if len(jobs) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        # Many pictures: read them in worker processes (forked before Paddle is imported, so
        # cheaply) while this process imports Paddle and loads the model.
        pool = multiprocessing.get_context("fork").Pool(min(os.cpu_count(), 8))
        pending = pool.map_async(_read_one, jobs, chunksize=16)
    try:
        model = load_model(args.params)
    except Exception as exc:  # a file that is not Paddle parameters of this network
        if pool:
            pool.terminate()
        print(f"predict.py: error: cannot load {args.params} as this network's parameters "
              f"({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
              file=sys.stderr)
        return EXIT_USAGE
    if pool:
        results = pending.get()
        pool.close()
    else:
        results = [_read_one(job) for job in jobs]
    inputs, good = [], []
    for path, (array, error) in zip(paths, results):
        if error is None:
            inputs.append(array)
            good.append(path)
        else:
            errors.append((path, error))
    from mnist.losses import predicted_digits  # imports Paddle, which load_model has done

    outputs = predict_arrays(model, np.stack(inputs)) if inputs else np.zeros((0, 10))
    digits = [int(d) for d in predicted_digits(outputs)]
    for path, out, digit in zip(good, outputs, digits):
        if args.json:
            key = "probabilities" if len(out) > 1 else "value"
            value = [round(float(v), 6) for v in out] if len(out) > 1 else float(out[0])
            print(json.dumps({"image": path, "digit": digit, key: value}, ensure_ascii=False))
        else:
            print(format_line(path, out, digit, args.top_k))
    if len(good) == 1 and not errors and not args.json:
        print(f"本次预测的数字是: {digits[0]}")
    for path, reason in errors:
        print(f"predict.py: {path}: {reason}", file=sys.stderr)
    return EXIT_SOME_FAILED if errors else 0
