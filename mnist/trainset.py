"""The training set of a run: MNIST's train split (or its first --limit images), then the
extra digits (``--extra-digits``, mnist/extra.py), then the pictures that are not one digit
(``--not-digits``, mnist/notdigits.py), made from the digits before them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist.cluster import Cluster
from mnist.data import MnistDataset, build_datafile
from mnist.notdigits import make as make_not_digits


def load_data(cfg: dict, mnist_dir, cluster: Cluster):
    """(train images, train labels, valid split). One process per machine builds the data
    file and its cache; the others wait, then read it."""
    extra = cfg["extra_digits"]

    def read():  # the first reader builds the binary cache and the extra digits' file
        train_set = MnistDataset("train", cfg["datafile"])
        if not extra:
            return train_set, None
        from mnist import extra as extra_digits  # typefaces and matplotlib: only if asked

        return train_set, extra_digits.load(extra, cfg["datafile"])

    if cluster.local_rank == 0:
        # a first run also writes a few eval digits as pictures beside it, to try predict.py on
        build_datafile(cfg["datafile"], mnist_dir, examples=Path(cfg["datafile"]).parent / "examples")
        train_set, more = read()
    cluster.barrier()
    if cluster.local_rank != 0:
        train_set, more = read()
    images, labels = train_set.images, train_set.labels
    if cfg["limit"]:
        images, labels = images[:cfg["limit"]], labels[:cfg["limit"]]
    if more is not None:
        images, labels = np.concatenate([images, more[0]]), np.concatenate([labels, more[1]])
    if cfg["not_digits"]:  # made from the digits above, the same in every process
        unsure = make_not_digits(cfg["not_digits"], images)
        images, labels = np.concatenate([images, unsure[0]]), np.concatenate([labels, unsure[1]])
    return images, labels, MnistDataset("valid", cfg["datafile"])
