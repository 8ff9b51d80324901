"""Accuracy of predict.py on real-looking pictures that are not from MNIST.

    python benchmarks/predict_accuracy.py [--set dev|test|confirm] [--params A.pdparams B.pdparams ...]

The pictures come from mnist/picturesets/devtest.py: typed digits in Debian's typefaces, UCI's
handwritten digits (scikit-learn) and a synthetic hand, as scans, phone photos, light on dark,
small digits, canvas drawings, CMYK and transparent files. Tune on ``--set dev``; report
``--set test``, which nothing was tuned on. Prints each model's accuracy through each
preprocessing pipeline, overall, per source and per presentation.
"""

import argparse
import time
from collections import defaultdict

import numpy as np

from mnist.pictures import ImageError, load_input
from mnist.picturesets.devtest import make_set


def read_all(pictures, pipeline):
    """Network inputs of all pictures; one that holds no digit counts as wrong (blank input)."""
    inputs, failed = [], 0
    for path, _ in pictures:
        try:
            inputs.append(load_input(path, pipeline))
        except ImageError:
            inputs.append(np.zeros((1, 28, 28), np.float32))
            failed += 1
    return np.stack(inputs), failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", nargs="+", default=["work/mnist.pdparams"])
    parser.add_argument("--set", choices=("dev", "test", "confirm"), default="dev")
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--pipelines", nargs="+", default=["mnist", "lesson"])
    parser.add_argument("--out", default=None, help="where to write the pictures (work/pictures-SET)")
    parser.add_argument("--wrong", action="store_true", help="list the pictures each model gets wrong")
    args = parser.parse_args()
    pictures = make_set(args.out or f"work/pictures-{args.set}", args.set, args.count)
    truth = np.array([d for _p, d in pictures])
    groups = defaultdict(list)
    for i, (path, _) in enumerate(pictures):
        _digit, _index, source, how = path.stem.split("_", 3)
        groups[source].append(i)
        groups[how].append(i)

    from mnist.inference import load_model, predict_arrays

    print(f"{len(pictures)} pictures of the {args.set} set")
    for pipeline in args.pipelines:
        t0 = time.perf_counter()
        inputs, failed = read_all(pictures, pipeline)
        ms = 1000 * (time.perf_counter() - t0) / len(pictures)
        for params in args.params:
            guess = predict_arrays(load_model(params), inputs).argmax(-1)
            right = guess == truth
            detail = ", ".join(f"{k} {right[v].mean():.1%}" for k, v in sorted(groups.items()))
            print(f"{pipeline:6s} {params}: {right.mean():.1%}  ({ms:.1f} ms/picture, "
                  f"{failed} found no digit)\n    {detail}", flush=True)
            if args.wrong:
                for i in np.flatnonzero(~right):
                    print(f"    wrong: {pictures[i][0]} -> {guess[i]}")


if __name__ == "__main__":
    main()
