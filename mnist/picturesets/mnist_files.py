"""MNIST's own eval digits written as ordinary picture files, in six ways (dark on white and
white on black; 28x28, and scaled up to 112x112 and 280x280 with Pillow's bicubic filter), and
read back through a preprocessing pipeline in worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import numpy as np
from PIL import Image

from mnist.pictures import load_input

SIZES = (28, 112, 280)
POLARITIES = ("dark-on-white", "white-on-black")


def digit_picture(array: np.ndarray, size: int = 28, polarity: str = "dark-on-white") -> Image.Image:
    """One MNIST digit (floats in [0, 1], ink = 1) as an 8-bit grayscale picture."""
    ink = np.asarray(array, np.float32).reshape(28, 28)
    pixels = ink if polarity == "white-on-black" else 1 - ink
    image = Image.fromarray(np.round(255 * pixels).astype(np.uint8))
    return image if size == 28 else image.resize((size, size), Image.Resampling.BICUBIC)


def write_pictures(images: np.ndarray, folder: Path, size: int, polarity: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, array in enumerate(images):
        path = folder / f"{i:05d}.png"
        digit_picture(array, size, polarity).save(path)
        paths.append(path)
    return paths


def _read(job):
    path, pipeline = job
    return load_input(path, pipeline)


def read_inputs(paths, pipeline: str = "mnist", processes: int | None = None) -> np.ndarray:
    """The network inputs of many picture files, read in worker processes."""
    jobs = [(p, pipeline) for p in paths]
    pool = multiprocessing.get_context("fork").Pool(processes or os.cpu_count() or 1)
    try:
        return np.stack(pool.map(_read, jobs, chunksize=64))
    finally:
        pool.close()  # not terminate(): forked workers that imported Paddle complain of SIGTERM
        pool.join()
