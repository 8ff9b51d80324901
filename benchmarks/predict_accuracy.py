"""Accuracy of predict.py's two preprocessing pipelines on pictures that are not from MNIST.

    python benchmarks/predict_accuracy.py [--params work/mnist.pdparams] [--count 500]

The pictures come from benchmarks/digit_pictures.py (typed and hand-drawn digits, presented as
scans, phone photos, white-on-black, transparent, 16-bit, CMYK, GIF, BMP). Prints the accuracy of
each pipeline overall and per kind of picture.
"""

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digit_pictures import make_set  # noqa: E402

from mnist.prediction import ImageError, load_input, load_model, predict_arrays  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="work/mnist.pdparams")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--out", default="work/pictures")
    args = parser.parse_args()
    pictures = make_set(args.out, args.count, args.seed)
    model = load_model(args.params)
    print(f"{len(pictures)} pictures in {args.out}, model {args.params}")
    for pipeline in ("lesson", "mnist"):
        t0 = time.perf_counter()
        inputs, failed = [], 0
        for path, _ in pictures:
            try:
                inputs.append(load_input(path, pipeline))
            except ImageError:  # counted as wrong: a blank input predicts nothing useful
                inputs.append(np.zeros((1, 28, 28), np.float32))
                failed += 1
        inputs = np.stack(inputs)
        t1 = time.perf_counter()
        digits = predict_arrays(model, inputs).argmax(-1)
        right = defaultdict(list)
        for (path, digit), guess in zip(pictures, digits):
            kind = path.stem.split("_", 2)[2]
            right[kind].append(guess == digit)
            right["all"].append(guess == digit)
        per_kind = ", ".join(f"{k} {np.mean(v):.0%}" for k, v in sorted(right.items())
                             if k != "all")
        print(f"{pipeline:6s}: accuracy {np.mean(right['all']):.1%} "
              f"(preprocessing {1000 * (t1 - t0) / len(pictures):.1f} ms/picture, "
              f"{failed} found no digit)\n"
              f"        {per_kind}")


if __name__ == "__main__":
    main()
