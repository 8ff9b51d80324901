"""MNIST's own eval digits written as picture files: does predict.py leave them alone?

    python benchmarks/mnist_pictures.py [--params work/mnist.pdparams ...] [--count 10000]

Writes each eval digit as an ordinary PNG file in six ways (dark on white and white on black;
28x28, and scaled up to 112x112 and 280x280 with Pillow's bicubic filter), reads the files back
through each preprocessing pipeline, and prints the model's accuracy on the files next to its
accuracy on the arrays themselves. A pipeline that leaves MNIST-like digits alone agrees with the
arrays to within a few tenths of a point, whatever the model.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist.picturesets.mnist_files import POLARITIES, SIZES, read_inputs, write_pictures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", nargs="+", default=["work/mnist.pdparams"])
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--pipelines", nargs="+", default=["mnist", "lesson"])
    args = parser.parse_args()

    from mnist.data import load_split
    from mnist.inference import load_model, predict_arrays

    images, labels = load_split("eval", args.datafile)
    images, labels = images[:args.count], labels[:args.count]
    models = {p: load_model(p) for p in args.params}
    on_arrays = {p: np.mean(predict_arrays(m, images).argmax(-1) == labels)
                 for p, m in models.items()}
    print(f"{len(labels)} eval digits; accuracy on the arrays: "
          + ", ".join(f"{p} {a:.2%}" for p, a in on_arrays.items()))
    print(f"{'pictures':28s} {'pipeline':8s} {'ms/pic':>7s}  "
          + "  ".join(f"{'files':>7s} {'diff':>6s}" for _ in models))
    with tempfile.TemporaryDirectory() as tmp:
        for polarity in POLARITIES:
            for size in SIZES:
                paths = write_pictures(images, Path(tmp) / f"{polarity}-{size}", size, polarity)
                for pipeline in args.pipelines:
                    t0 = time.perf_counter()
                    inputs = read_inputs(paths, pipeline)
                    ms = 1000 * (time.perf_counter() - t0) / len(paths)
                    cells = []
                    for p, model in models.items():
                        acc = np.mean(predict_arrays(model, inputs).argmax(-1) == labels)
                        cells.append(f"{acc:7.2%} {100 * (acc - on_arrays[p]):+6.2f}")
                    print(f"{polarity + f' {size}x{size}':28s} {pipeline:8s} {ms:7.2f}  "
                          + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
