"""What ``--distort`` (``--preset robust``) adds to a training step.

    python benchmarks/augment_cost.py [--batches 100] [--repeats 5]

In one process with the project's CPU settings, on real training images, batch 100: the time of
the training step (forward, backward, momentum update, as mnist/training.py runs it) and of
``mnist.augment.distort`` on the same batch (and ``shift_images``, ``--augment`` alone),
interleaved ``--repeats`` times; the medians and the ratio augmentation / step. In a 2-process
launch each process distorts the whole batch of 100 but steps on 50 images: that ratio is
printed too, from the step measured on 50 images with 1 thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def per_batch_ms(fn, batches: int) -> float:
    fn(0)  # warm-up
    start = time.perf_counter()
    for i in range(batches):
        fn(i)
    return 1000 * (time.perf_counter() - start) / batches


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import paddle

    from mnist.augment import distort, shift_images
    from mnist.cpu import keep_freed_memory, set_threads
    from mnist.data import load_split
    from mnist.losses import LOSSES
    from mnist.model import MNIST

    images, labels = load_split("train", args.datafile)
    keep_freed_memory()  # as train.py does
    net = MNIST(conv="onednn")  # as train.py runs it
    opt = paddle.optimizer.Momentum(0.03, momentum=0.9, parameters=net.parameters(),
                                    weight_decay=0.0005)
    loss_fn = LOSSES["cross_entropy"].loss
    rng = np.random.default_rng(0)

    def batch(i):
        lo = (i % 500) * 100
        return images[lo:lo + 100], labels[lo:lo + 100]

    def step(i, share=slice(None)):
        x, y = batch(i)
        loss = loss_fn(net(paddle.to_tensor(x[share])), paddle.to_tensor(y[share]))
        loss.backward()
        opt.step()
        opt.clear_grad()
        float(loss)

    figures = {"step": [], "step-half-1thread": [], "distort": [], "shift": []}
    for _ in range(args.repeats):
        set_threads(os.cpu_count() or 1)
        figures["step"].append(per_batch_ms(step, args.batches))
        set_threads(1)
        figures["step-half-1thread"].append(
            per_batch_ms(lambda i: step(i, slice(0, None, 2)), args.batches))
        figures["distort"].append(per_batch_ms(lambda i: distort(batch(i)[0], rng, 2), args.batches))
        figures["shift"].append(per_batch_ms(lambda i: shift_images(batch(i)[0], 2, rng), args.batches))
    med = {k: statistics.median(v) for k, v in figures.items()}
    print(f"median of {args.repeats}, ms per batch of 100:")
    for k, v in med.items():
        print(f"  {k:18s} {v:7.2f}")
    print(f"distort / step, 1 process:              {med['distort'] / med['step']:.1%}")
    print(f"distort / step, each of 2 processes:    {med['distort'] / med['step-half-1thread']:.1%}")
    print(f"shift / step, 1 process:                {med['shift'] / med['step']:.1%}")


if __name__ == "__main__":
    main()
