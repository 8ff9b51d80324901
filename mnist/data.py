"""MNIST data: the official IDX files -> the lesson's ``mnist.json.gz`` -> ``MnistDataset``.

Where the four official IDX files come from, in order:

1. ``--mnist-dir DIR`` or the ``MNIST_DIR`` environment variable (``*.gz`` as Paddle downloads
   them, or already unpacked);
2. Paddle's own dataset cache, ``~/.cache/paddle/dataset/mnist``, filled and md5-checked by
   ``paddle.dataset.common.download`` exactly as ``paddle.vision.datasets.MNIST`` does.

From them we write the lesson's file format, a gzip'd JSON list ``[train, valid, eval]``, each
``[images, labels]``: train = the first 50000 official training images, valid = the last 10000,
eval = the 10000 official test images; an image is 784 floats in [0, 1] (pixel / 255).

Parsing that JSON costs seconds and gigabytes, so we keep a binary cache beside it
(``<datafile>.cache.npz``), rebuilt whenever the JSON changes. ``python -m mnist.data`` builds both.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import sys
import zipfile
import zlib
from pathlib import Path

if __name__ == "__main__":  # python -m mnist.data: started as every command is, so that a
    from mnist.runtime import launch  # missing or old Paddle is one line, not a traceback

    sys.exit(launch("python -m mnist.data", "mnist.data"))

import numpy as np
import paddle
from paddle.vision.datasets import MNIST as PaddleMNIST

from mnist import cli
from mnist.cli import DEFAULT_DATAFILE, CliError, Parser
from mnist.files import atomic_write  # noqa: F401  (also used from here by other modules)

MODES = ("train", "valid", "eval")
SPLIT_SIZES = {"train": 50000, "valid": 10000, "eval": 10000}
IMAGE_SIZE = 28

# The four official files: Paddle's own URLs and md5 sums (of the .gz), plus the md5 of the unpacked
# IDX file so that an unpacked copy can be checked too.
IDX_FILES = {
    "train_images": (PaddleMNIST.TRAIN_IMAGE_URL, PaddleMNIST.TRAIN_IMAGE_MD5,
                     "6bbc9ace898e44ae57da46a324031adb", 2051, 60000),
    "train_labels": (PaddleMNIST.TRAIN_LABEL_URL, PaddleMNIST.TRAIN_LABEL_MD5,
                     "a25bea736e30d166cdddb491f175f624", 2049, 60000),
    "test_images": (PaddleMNIST.TEST_IMAGE_URL, PaddleMNIST.TEST_IMAGE_MD5,
                    "2646ac647ad5339dbf082846283269ea", 2051, 10000),
    "test_labels": (PaddleMNIST.TEST_LABEL_URL, PaddleMNIST.TEST_LABEL_MD5,
                    "27ae3e4e09519cfbb04c329615203637", 2049, 10000),
}

# JSON text of pixel/255 for each byte value: the shortest decimal that reads back as exactly
# float32(v / 255), so the JSON and the float32 cache agree bit for bit.
_PIXEL_TEXT = [str(np.float32(v / 255)) for v in range(256)]
PIXEL_VALUES = np.array([np.float32(v / 255) for v in range(256)], dtype=np.float32)


class DataError(CliError):
    """A problem with the data that the user can fix; the message says how."""


# --------------------------------------------------------------------------------------------
# Official IDX files
# --------------------------------------------------------------------------------------------

def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_name(key: str) -> str:
    return IDX_FILES[key][0].rsplit("/", 1)[-1]  # e.g. train-images-idx3-ubyte.gz


def _from_folder(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"MNIST folder {folder} does not exist or is not a folder")
    found = {}
    for key in IDX_FILES:
        gz = folder / _file_name(key)
        raw = gz.with_suffix("")  # the unpacked IDX file
        if gz.is_file():
            found[key] = gz
        elif raw.is_file():
            found[key] = raw
        else:
            raise DataError(f"{gz} not found: the folder {folder} must hold the four official "
                            f"MNIST files ({', '.join(_file_name(k) for k in IDX_FILES)})")
    return found


def _from_paddle_cache() -> dict[str, Path]:
    """Paddle's own download-and-md5-check into ~/.cache/paddle/dataset/mnist."""
    from paddle.dataset.common import download

    found = {}
    for key, (url, md5, *_rest) in IDX_FILES.items():
        noise = io.StringIO()  # Paddle writes its retries to stderr; we say one clear thing instead
        try:
            with contextlib.redirect_stderr(noise):
                found[key] = Path(download(url, PaddleMNIST.NAME, md5))
        except Exception as exc:  # offline, refused, bad md5 three times, ...
            cache = Path(paddle.dataset.common.DATA_HOME) / PaddleMNIST.NAME
            raise DataError(
                f"cannot get MNIST ({_file_name(key)}): no --mnist-dir or MNIST_DIR was given, and "
                f"Paddle could not download it into {cache} ({exc.__class__.__name__}). "
                f"Offline, point the project at a folder holding the four official files, e.g. "
                f"MNIST_DIR=../shared/mnist python train.py, or copy them into {cache}") from exc
    return found


def locate_idx_files(mnist_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Paths of the four official files: ``mnist_dir``, else ``$MNIST_DIR``, else Paddle's cache."""
    folder = mnist_dir or os.environ.get("MNIST_DIR")
    return _from_folder(Path(folder)) if folder else _from_paddle_cache()


def read_idx(path: str | os.PathLike, key: str) -> np.ndarray:
    """Read and verify one official IDX file (gzip'd or not); uint8 array [N, 784] or [N]."""
    path = Path(path)
    _url, gz_md5, raw_md5, magic, count = IDX_FILES[key]
    packed = path.suffix == ".gz"
    digest = _md5(path)
    if digest != (gz_md5 if packed else raw_md5):
        raise DataError(f"{path}: md5 {digest} is not the official {gz_md5 if packed else raw_md5}"
                        " (a wrong, damaged or truncated file); replace it with the official one")
    data = path.read_bytes()
    if packed:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: not a complete gzip file ({exc})") from exc
    # After the md5 check this cannot fail on the official files; it states the format we rely on.
    header = 16 if magic == 2051 else 8
    fields = np.frombuffer(data[:header], dtype=">i4")
    item = IMAGE_SIZE * IMAGE_SIZE if magic == 2051 else 1
    if (len(fields) * 4 != header or fields[0] != magic or fields[1] != count
            or len(data) != header + count * item):
        raise DataError(f"{path}: not an IDX file of {count} MNIST items")
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    return array.reshape(count, item) if item > 1 else array


def load_official(mnist_dir=None) -> dict[str, np.ndarray]:
    """The four official arrays, read and verified."""
    return {key: read_idx(path, key) for key, path in locate_idx_files(mnist_dir).items()}


# --------------------------------------------------------------------------------------------
# The lesson's mnist.json.gz and its binary cache
# --------------------------------------------------------------------------------------------

def official_splits(official: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """train/valid/eval as (uint8 images [N, 784], uint8 labels [N]), the lesson's split."""
    ti, tl = official["train_images"], official["train_labels"]
    n = SPLIT_SIZES["train"]
    return {"train": (ti[:n], tl[:n]), "valid": (ti[n:], tl[n:]),
            "eval": (official["test_images"], official["test_labels"])}


def write_json(splits, datafile: str | os.PathLike) -> None:
    """Write the lesson's gzip'd JSON from uint8 splits (atomically)."""
    with atomic_write(datafile) as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6,
                                                       mtime=0) as gz:
        out = io.TextIOWrapper(gz, encoding="ascii", newline="")
        out.write("[")
        for s, mode in enumerate(MODES):
            images, labels = splits[mode]
            out.write("," if s else "")
            out.write("[[")
            out.write(",".join("[" + ",".join([_PIXEL_TEXT[v] for v in row]) + "]"
                               for row in images.tolist()))
            out.write("],[" + ",".join(map(str, labels.tolist())) + "]]")
        out.write("]")
        out.flush()
        out.detach()


def _cache_path(datafile: Path) -> Path:
    return datafile.with_name(datafile.name + ".cache.npz")


def _signature(datafile: Path) -> np.ndarray:
    st = datafile.stat()
    return np.array([st.st_size, st.st_mtime_ns], dtype=np.int64)


def write_cache(arrays: dict[str, tuple[np.ndarray, np.ndarray]], datafile: Path) -> None:
    """Store float32 images [N,1,28,28] and int64 labels per split, keyed to the JSON's size+mtime."""
    payload = {"source": _signature(datafile)}
    for mode, (images, labels) in arrays.items():
        payload[f"{mode}_images"] = images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
        payload[f"{mode}_labels"] = labels
    with atomic_write(_cache_path(datafile)) as f:
        np.savez(f, **payload)


def parse_json(datafile: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read the lesson's JSON (ours or the tutorial's own) into float32 / int64 arrays."""
    try:
        with gzip.open(datafile, "rt", encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{datafile}: not a complete gzip'd JSON file ({exc}); delete it and run "
                        "`python -m mnist.data` to rebuild it") from exc
    if not (isinstance(data, list) and len(data) == 3):
        raise DataError(f"{datafile}: expected a JSON list [train, valid, eval]")
    arrays = {}
    for mode, split in zip(MODES, data):
        try:
            images, labels = split
            images = np.asarray(images, dtype=np.float32)
            labels = np.asarray(labels, dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{datafile}: the {mode} split is not [images, labels] "
                            f"of 784 numbers per image ({exc})") from exc
        if images.ndim != 2 or images.shape[1] != IMAGE_SIZE * IMAGE_SIZE \
                or labels.shape != (len(images),):
            raise DataError(f"{datafile}: the {mode} split is not [images, labels] of 784 "
                            f"numbers per image and one label each")
        if len(labels) and (labels.min() < 0 or labels.max() > 9):
            raise DataError(f"{datafile}: the {mode} split has labels outside 0-9")
        if not np.isfinite(images).all():
            raise DataError(f"{datafile}: the {mode} split has non-finite pixel values")
        arrays[mode] = (images, labels)
    del data
    return arrays


def build_datafile(datafile=DEFAULT_DATAFILE, mnist_dir=None, force=False,
                   examples: str | os.PathLike | None = None) -> Path:
    """Make sure ``datafile`` exists; build it (and its cache) from the official files if not,
    and then write a few eval digits as pictures into ``examples`` (``write_examples``)."""
    datafile = Path(datafile)
    if datafile.exists() and not force:
        return datafile
    splits = official_splits(load_official(mnist_dir))
    write_json(splits, datafile)
    write_cache({m: (PIXEL_VALUES[im], lb.astype(np.int64)) for m, (im, lb) in splits.items()},
                datafile)
    if examples is not None:
        write_examples(datafile, examples)
    return datafile


def load_split(mode: str, datafile=DEFAULT_DATAFILE) -> tuple[np.ndarray, np.ndarray]:
    """float32 images [N,1,28,28] and int64 labels [N] of one split, through the binary cache."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    datafile = Path(datafile)
    if not datafile.is_file():
        raise DataError(f"{datafile} not found; run `python -m mnist.data` (with --mnist-dir DIR "
                        "or MNIST_DIR=DIR when offline) to build it")
    cache = _cache_path(datafile)
    for attempt in range(2):
        if cache.is_file():
            try:
                with np.load(cache) as npz:
                    if np.array_equal(npz["source"], _signature(datafile)):
                        return npz[f"{mode}_images"], npz[f"{mode}_labels"]
            except (OSError, ValueError, KeyError, zlib.error, EOFError, zipfile.BadZipFile):
                # a damaged cache (cut short by a full disk or a copy) is rebuilt from the JSON
                print(f"{cache} is damaged; rebuilding it from {datafile}", file=sys.stderr)
        if attempt == 0:
            arrays = parse_json(datafile)
            try:
                write_cache(arrays, datafile)
            except OSError as exc:  # read-only folder: work from memory
                print(f"warning: cannot write the cache {cache} ({exc})", file=sys.stderr)
                images, labels = arrays[mode]
                return images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE), labels
    raise DataError(f"cannot read back the cache {cache}")


class MnistDataset(paddle.io.Dataset):
    """One split of the lesson's data as a ``paddle.io.Dataset``.

    ``ds[i]`` is ``(float32 image [1, 28, 28], int64 label [1])`` as in the lesson; ``ds.images``
    (float32 [N, 1, 28, 28]) and ``ds.labels`` (int64 [N]) give the whole split at once.
    """

    def __init__(self, mode: str = "train", datafile: str | os.PathLike = DEFAULT_DATAFILE):
        super().__init__()
        self.mode = mode
        self.images, self.labels = load_split(mode, datafile)

    def __getitem__(self, idx):
        return self.images[idx], self.labels[idx].reshape(1)

    def __len__(self):
        return len(self.labels)


# --------------------------------------------------------------------------------------------
# python -m mnist.data
# --------------------------------------------------------------------------------------------

def write_examples(datafile=DEFAULT_DATAFILE, out_dir="work/examples", count=10) -> list[Path]:
    """A few eval-split digits as ordinary image files (dark digit on white, like the lesson's)."""
    from PIL import Image

    images, labels = load_split("eval", datafile)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for digit in range(min(count, 10)):
        idx = int(np.flatnonzero(labels == digit)[0])
        pixels = np.round(255 * (1 - images[idx, 0])).clip(0, 255).astype(np.uint8)
        path = out_dir / f"digit_{digit}.png"
        with atomic_write(path) as f:
            Image.fromarray(pixels).resize((112, 112), Image.Resampling.LANCZOS) \
                .save(f, format="PNG")
        written.append(path)
    return written


def main(argv=None) -> int:
    return cli.run("python -m mnist.data", build, argv)


def build_parser() -> Parser:
    parser = Parser(
        prog="python -m mnist.data",
        description="Build the lesson's mnist.json.gz (and its binary cache) from the official "
                    "MNIST files, and write a few example digit images.")
    parser.add_argument("--mnist-dir", help="folder with the four official IDX files "
                        "(default: $MNIST_DIR, else Paddle's cache ~/.cache/paddle/dataset/mnist)")
    parser.add_argument("--datafile", default=DEFAULT_DATAFILE,
                        help=f"the JSON file to write (default: {DEFAULT_DATAFILE})")
    parser.add_argument("--force", action="store_true", help="rebuild even if the file exists")
    parser.add_argument("--examples", default="work/examples",
                        help="folder for example digit images (default: work/examples)")
    return parser


def build(argv) -> int:
    args = build_parser().parse_args(argv)
    path = build_datafile(args.datafile, args.mnist_dir, force=args.force)
    for mode in MODES:
        images, labels = load_split(mode, path)
        print(f"{mode}: {len(labels)} images, pixels in [{images.min():.0f}, "
              f"{images.max():.0f}]")
    examples = write_examples(path, args.examples)
    print(f"wrote {path} and {len(examples)} example images in {args.examples}/")
    return 0
