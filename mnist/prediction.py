"""``python predict.py IMAGE [IMAGE ...]``: the digit in each picture, with probabilities;
with ``--number``, the number of several digits in each picture.

The pictures become the network's 28x28 input in ``mnist.pictures`` (two pipelines, ``mnist``
by default and the lesson's plain resize), a number's digits are found in ``mnist.numbers``;
this module loads the model, predicts and prints.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np

from mnist import cli, shipped
from mnist.cli import DEFAULT_PARAMS, EXIT_FAILED, ROBUST_PARAMS, CliError, Parser
from mnist.cpu import keep_freed_memory
from mnist.inference import load_predictor, predict_arrays
from mnist.losses import predicted_digits
from mnist.numbers import WORK_SIZE, boxes_picture, number_of, read_number
from mnist.pictures import IMAGE_SUFFIXES, PIPELINES, ImageError, input_picture, load_input, open_image

# ----------------------------------------------------------------------------------------------
# python predict.py
# ----------------------------------------------------------------------------------------------

PARALLEL_FROM = 64  # pictures; from this many on they are read in worker processes
STREAM_BATCH = 100  # pictures predicted at once while the rest are still being read


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
    p = Parser(prog="predict.py", description="Predict the digit in each picture.")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="picture files (PNG, JPEG, BMP, GIF, ...) or folders of them")
    p.add_argument("--model", "--params", dest="model", default=None,
                   help="the trained network: parameters from train.py (.pdparams; default "
                        f"{DEFAULT_PARAMS}, with --number {ROBUST_PARAMS}; without that file, "
                        "the robust model shipped with the package), or a model from "
                        "export.py: a Paddle inference model (mnist.json, or its folder) or "
                        "mnist.onnx (run by ONNX Runtime, without Paddle)")
    p.add_argument("--preprocess", choices=sorted(PIPELINES), default="mnist",
                   help="mnist (default: crop, scale and centre like MNIST) or lesson "
                        "(the lesson's plain resize)")
    p.add_argument("--top-k", type=int, default=1, metavar="K",
                   help="show the K most probable digits")
    p.add_argument("--number", action="store_true",
                   help="read the number of one or more digits in each picture: the digits "
                        "are found, ordered left to right and each read as a single digit")
    p.add_argument("--json", action="store_true",
                   help='JSON Lines: {"image", "digit", "probabilities"} per image; with '
                        '--number {"image", "number", "probability", "digits": [{"digit", '
                        '"probabilities", "box": [x0, y0, x1, y1]}, ...]}')
    p.add_argument("--save-inputs", metavar="DIR", default=None,
                   help="also write the 28x28 input the network saw for each picture, scaled "
                        "up 8 times, as DIR/<picture name>.png; with --number one per digit, "
                        "DIR/<picture name>-<k>.png, and the picture with the digits' boxes, "
                        "DIR/<picture name>-boxes.png")
    return p


def _free_stem(stem: str, taken: set) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ... for pictures of the same name from different
    folders."""
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    taken.add(name)
    return name


def _write_png(path: Path, picture) -> None:
    from mnist.files import atomic_write

    with atomic_write(path) as f:
        picture.save(f, format="PNG")


def save_inputs(folder: str, paths: list[str], inputs) -> None:
    """Each network input as a PNG a person can see: ink white on black, 224x224 pixels."""
    taken: set = set()
    for path, array in zip(paths, inputs):
        _write_png(Path(folder) / f"{_free_stem(Path(path).stem, taken)}.png",
                   input_picture(array))


def format_line(path: str, probs: np.ndarray, digit: int, k: int) -> str:
    if probs.shape[-1] == 1:  # a square-error model: a value, not probabilities
        return f"{path}: {digit} (value={probs[0]:.2f})"
    order = np.argsort(-probs)[:k]
    return f"{path}: " + ", ".join(f"{d} (p={probs[d]:.2f})" for d in order)


def start_reading(jobs):
    """(pool or None, iterator of ``_read_one`` results in order). Many pictures are read in
    worker processes (forked before a runtime is imported, so cheaply) while this process
    imports it, loads the model and predicts what the workers have read so far."""
    # Windows cannot fork; macOS can, but a forked child of a process that loaded Apple's
    # frameworks may crash (why Python starts workers by spawning there): read here
    forks = sys.platform.startswith("linux")
    if len(jobs) < PARALLEL_FROM or (os.cpu_count() or 1) < 2 or not forks:
        return None, map(_read_one, jobs)
    pool = multiprocessing.get_context("fork").Pool(min(os.cpu_count(), 8))
    return pool, pool.imap(_read_one, jobs, chunksize=max(16, len(jobs) // 32))


def predict_as_read(model, paths, results, errors):
    """(paths read, their inputs, the model's outputs) for the pictures as they are read
    (``results``: (array, None) or (None, reason) per path, in order): the model runs on each
    STREAM_BATCH inputs while the workers go on reading; unreadable paths go to ``errors``."""
    good, inputs, outputs, done = [], [], [], 0
    for path, (array, error) in zip(paths, results):
        if error is not None:
            errors.append((path, error))
            continue
        good.append(path)
        inputs.append(array)
        if len(inputs) - done == STREAM_BATCH:
            outputs.append(predict_arrays(model, np.stack(inputs[done:])))
            done = len(inputs)
    if len(inputs) > done:
        outputs.append(predict_arrays(model, np.stack(inputs[done:])))
    return good, inputs, (np.concatenate(outputs) if outputs
                          else np.zeros((0, model.num_outputs), np.float32))


def predict_numbers(args, model, paths, errors) -> None:
    """``--number``: each picture's digits found, read and printed as one number."""
    if model.num_outputs != 10:
        raise CliError(f"--number needs a classifier with 10 outputs; {args.model} is a "
                       "square-error model with one")

    def classify(inputs):  # probabilities [N, 10]
        return predict_arrays(model, inputs)

    taken: set = set()
    for path in paths:
        try:
            image = open_image(path, WORK_SIZE)
            digits = read_number(image, classify)
        except ImageError as exc:
            errors.append((path, str(exc)))
            continue
        number, p = number_of(digits)
        if args.save_inputs:
            stem = _free_stem(Path(path).stem, taken)
            for k, d in enumerate(digits, 1):
                _write_png(Path(args.save_inputs) / f"{stem}-{k}.png", input_picture(d.input))
            _write_png(Path(args.save_inputs) / f"{stem}-boxes.png", boxes_picture(image, digits))
        if args.json:
            print(json.dumps({"image": path, "number": number, "probability": round(p, 6),
                              "digits": [{"digit": d.digit, "probabilities": [
                                  round(float(v), 6) for v in d.probabilities],
                                  "box": list(d.box)} for d in digits]}, ensure_ascii=False))
        else:
            print(f"{path}: {number} (p={p:.2f})")
            if len(paths) == 1:
                print(f"本次预测的数字是: {number}")


def main(argv=None) -> int:
    return cli.run("predict.py", predict, argv)


def predict(argv) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()  # the picture steps' large temporaries: reused, not faulted in again
    if args.top_k < 1 or args.top_k > 10:
        raise CliError(f"--top-k must be between 1 and 10, not {args.top_k}")
    own, train = ((ROBUST_PARAMS, "python train.py --preset robust") if args.number
                  else (DEFAULT_PARAMS, "python train.py"))
    model_path, note = shipped.fallback(args.model or own, args.model is not None, train)
    if note:
        print(f"predict.py: {note}", file=sys.stderr)
    args.model = str(model_path)
    if not os.path.exists(args.model):
        raise CliError(f"no trained model at {args.model}; train one first with "
                       f"`python train.py` (or pass --model PATH)")
    if args.save_inputs:
        try:
            os.makedirs(args.save_inputs, exist_ok=True)
        except OSError as exc:
            raise CliError(f"--save-inputs {args.save_inputs}: cannot create the folder "
                           f"({exc.strerror or exc})") from exc
    if args.number and (args.top_k != 1 or args.preprocess != "mnist"):
        raise CliError("--number reads each digit as the default mode does: it takes neither "
                       "--top-k nor --preprocess lesson")
    errors: list[tuple[str, str]] = []
    paths = expand_paths(args.images, errors)
    if args.number:
        predict_numbers(args, load_predictor(args.model), paths, errors)
        for path, reason in errors:
            print(f"predict.py: {path}: {reason}", file=sys.stderr)
        return EXIT_FAILED if errors else 0
    pool, results = start_reading([(path, args.preprocess) for path in paths])
    try:
        model = load_predictor(args.model)  # ModelError: not this network, or an unknown form
    except BaseException as exc:
        if pool:
            pool.terminate()
        if isinstance(exc, FileNotFoundError):  # a folder without the exported model
            raise CliError(f"no trained model at {exc}") from exc
        raise
    good, inputs, outputs = predict_as_read(model, paths, results, errors)
    if pool:
        pool.close()
    if args.save_inputs:
        save_inputs(args.save_inputs, good, inputs)
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
    return EXIT_FAILED if errors else 0  # some pictures could not be read
