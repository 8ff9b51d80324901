"""How the network learns: the optimizer, the learning-rate schedule, the number of steps of
a run and the order of its batches. ``train.py``'s flags choose among them (mnist/flags.py);
mnist/training.py runs them.

    sgd, momentum, nesterov, adam       paddle.optimizer.SGD / Momentum / Momentum(use_nesterov)
                                        / Adam, with optional L2 weight decay
    constant, cosine, onecycle          the learning rate of every step: --lr throughout, a
                                        cosine from --lr to 0, or one cycle from lr/25 up to
                                        --lr over the --warmup share of the steps and a cosine
                                        down to lr/1000 (the fast preset's)
"""

from __future__ import annotations

import numpy as np
import paddle


def total_steps(cfg: dict, steps_per_epoch: int) -> int:
    """The batches of the whole run: --epochs 1.5 is one epoch and half of the next."""
    return max(1, round(cfg["epochs"] * steps_per_epoch))


def make_optimizer(cfg: dict, model, steps_per_epoch: int):
    """(optimizer, learning-rate scheduler or None), stepped once per batch."""
    lr = scheduler = None
    steps = total_steps(cfg, steps_per_epoch)
    if cfg["schedule"] == "cosine":
        lr = scheduler = paddle.optimizer.lr.CosineAnnealingDecay(cfg["lr"], T_max=steps)
    elif cfg["schedule"] == "onecycle":
        lr = scheduler = paddle.optimizer.lr.OneCycleLR(
            cfg["lr"], steps, divide_factor=25, end_learning_rate=cfg["lr"] / 1000,
            phase_pct=cfg["warmup"], anneal_strategy="cos")
    else:
        lr = cfg["lr"]
    decay = cfg["weight_decay"] or None
    params = model.parameters()
    if cfg["optimizer"] == "sgd":
        opt = paddle.optimizer.SGD(lr, parameters=params, weight_decay=decay)
    elif cfg["optimizer"] in ("momentum", "nesterov"):
        opt = paddle.optimizer.Momentum(lr, momentum=cfg["momentum"], parameters=params,
                                        use_nesterov=cfg["optimizer"] == "nesterov",
                                        weight_decay=decay)
    else:
        opt = paddle.optimizer.Adam(lr, parameters=params, weight_decay=decay)
    return opt, scheduler


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of epoch ``epoch``: a function of (seed, epoch) alone, so a resumed run
    sees exactly the batches an uninterrupted one would."""
    return np.random.default_rng([seed, epoch]).permutation(n)
