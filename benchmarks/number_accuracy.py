"""How often ``predict.py --number`` reads the whole number right, per kind of picture.

    python benchmarks/number_accuracy.py [--set dev|test|confirm] [--count 300] [--singles N]
        [--mnist-files N] [--params work/robust.pdparams ...]

Makes the set of number pictures (``mnist/picturesets/number_sets.py``: typefaces of the set's own
families, UCI's handwriting of its half, a synthetic hand; spaced and touching; photos, scans,
small on a page, light on dark, ruled paper) in work/numbers-<set>/, reads each picture as
``predict.py --number`` does, and prints for each model and each kind of picture the share of
whole numbers right and the share with the right count of digits. Also, with --singles, the
share of single-digit pictures (the devtest set of the same split) for which --number answers
what the default mode answers, and with --mnist-files the same share for MNIST's eval digits
written as picture files.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from mnist.data import load_split
from mnist.inference import load_predictor, predict_arrays
from mnist.numbers import WORK_SIZE, number_of, read_number
from mnist.pictures import ImageError, load_input, open_image
from mnist.picturesets import devtest, number_sets
from mnist.picturesets.mnist_files import write_pictures


def read_one(model, path) -> str | None:
    """The number ``predict.py --number`` reads in the picture at ``path``, or None."""
    try:
        return number_of(read_number(open_image(path, WORK_SIZE),
                                     lambda x: predict_arrays(model, x)))[0]
    except ImageError:
        return None


def read_all(model, pictures):
    """(path, truth, the number read or None) for each picture."""
    return [(path, truth, read_one(model, path)) for path, truth in pictures]


def table(results) -> None:
    groups = defaultdict(list)
    for path, truth, read in results:
        source, kind = Path(path).stem.split("_")[2:4]
        for key in ("all", source, kind, f"{len(truth)} digits"):
            groups[key].append((truth, read))
    print(f"{'kind':<22} {'pictures':>8} {'number right':>13} {'count right':>12}")
    for key, rows in sorted(groups.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        right = np.mean([t == r for t, r in rows])
        count = np.mean([r is not None and len(t) == len(r) for t, r in rows])
        print(f"{key:<22} {len(rows):>8} {100 * right:>12.1f}% {100 * count:>11.1f}%")


def agreement(model, pictures) -> float:
    """Share of single-digit pictures where --number gives the default mode's digit."""
    same = 0
    for path, _digit in pictures:
        try:
            single = str(int(np.argmax(predict_arrays(model, load_input(path)[None])[0])))
        except ImageError:  # the default mode finds no digit: --number should find none either
            single = None
        same += read_one(model, path) == single
    return same / len(pictures)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", choices=("dev", "test", "confirm"), default="dev")
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--params", nargs="+", default=["work/robust.pdparams"])
    p.add_argument("--singles", type=int, default=0, metavar="N",
                   help="also measure agreement on N single-digit pictures of the set")
    p.add_argument("--mnist-files", type=int, default=0, metavar="N",
                   help="also measure agreement on the first N MNIST eval digits written as "
                        "28x28 picture files (dark on white)")
    p.add_argument("--datafile", default="work/mnist.json.gz")
    p.add_argument("--wrong", action="store_true", help="list the pictures read wrong")
    args = p.parse_args()
    folder = Path("work") / f"numbers-{args.set}"
    pictures = number_sets.make_set(folder, args.set, args.count)
    for params in args.params:
        model = load_predictor(params)
        start = time.perf_counter()
        results = read_all(model, pictures)
        seconds = time.perf_counter() - start
        print(f"\n{params}: {args.set} set, {len(pictures)} numbers, "
              f"{1000 * seconds / len(pictures):.1f} ms per picture")
        table(results)
        if args.wrong:
            for path, truth, read in results:
                if truth != read:
                    print(f"  {Path(path).name}: read {read}")
        if args.singles:
            singles = devtest.make_set(Path("work") / f"singles-{args.set}", args.set,
                                       args.singles)
            print(f"--number agrees with the default mode on "
                  f"{100 * agreement(model, singles):.1f}% of {len(singles)} single digits")
        if args.mnist_files:
            images, _labels = load_split("eval", args.datafile)
            files = write_pictures(images[:args.mnist_files], Path("work") / "eval-files", 28,
                                   "dark-on-white")
            print(f"--number agrees with the default mode on "
                  f"{100 * agreement(model, [(f, None) for f in files]):.2f}% of "
                  f"{len(files)} MNIST eval digits as picture files")


if __name__ == "__main__":
    main()
