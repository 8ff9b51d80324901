"""The lesson's own training code, as the lesson writes it, to measure this project against.

    python benchmarks/lesson.py [--seed N] [--epochs 10] [--threads N]

trains the lesson's way for 10 epochs and prints the lesson's loss lines and the accuracy on the
eval split: a per-sample ``Dataset`` over JSON-style lists of floats, ``paddle.io.DataLoader``
(batch 100, shuffled, last batch dropped), the layers applied in the lesson's order, SGD lr 0.01,
``F.cross_entropy``. ``benchmarks/train_speed.py`` times the same loop. The data are this
project's data file (``work/mnist.json.gz``, written from the official files if missing).
Importing the project's package switches MKL to its AVX2 path on AMD processors (``mnist/cpu.py``);
``MKL_DEBUG_CPU_TYPE= python benchmarks/lesson.py`` runs it with MKL's own choice, as the lesson
would. That changes the speed, not the accuracy.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import paddle
import paddle.nn.functional as F

from mnist.model import MNIST


class LessonDataset(paddle.io.Dataset):
    """The lesson's dataset: one sample at a time, built from Python lists."""

    def __init__(self, imgs: list, labs: list):
        self.imgs, self.labs = imgs, labs

    def __getitem__(self, i):
        img = np.reshape(np.array(self.imgs[i]), [1, 28, 28]).astype("float32")
        return img, np.reshape(np.array(self.labs[i]), [1]).astype("int64")

    def __len__(self):
        return len(self.labs)


class LessonModel(MNIST):
    """The same layers, applied in the lesson's order (conv, bias, relu, pool)."""

    forward = MNIST.forward_lesson


def lesson_training(images: np.ndarray, labels: np.ndarray):
    """The lesson's model, loader and one training step: ``step(x, y) -> loss``."""
    data = LessonDataset(images.reshape(len(images), 784).tolist(), labels.tolist())
    loader = paddle.io.DataLoader(data, batch_size=100, shuffle=True, drop_last=True)
    model = LessonModel()
    model.train()
    opt = paddle.optimizer.SGD(learning_rate=0.01, parameters=model.parameters())

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.clear_grad()
        return loss

    return model, loader, step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (Paddle's default)")
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    args = parser.parse_args()

    from mnist.cpu import set_threads
    from mnist.data import MnistDataset, build_datafile

    if args.seed is not None:
        paddle.seed(args.seed)
        np.random.seed(args.seed)
    if args.threads:
        set_threads(args.threads)
    build_datafile(args.datafile)
    train, evaluation = (MnistDataset(s, args.datafile) for s in ("train", "eval"))
    model, loader, step = lesson_training(train.images, train.labels)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        for batch, (x, y) in enumerate(loader()):
            loss = step(x, y)
            if batch % 200 == 0:
                print(f"epoch: {epoch}, batch: {batch}, loss is: {float(loss):.7f}", flush=True)
    model.eval()
    with paddle.no_grad():
        logits = np.concatenate([model(paddle.to_tensor(evaluation.images[i:i + 1000])).numpy()
                                 for i in range(0, len(evaluation.labels), 1000)])
    accuracy = float((logits.argmax(1) == evaluation.labels).mean())
    print(f"eval accuracy {accuracy:.4f}; {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
