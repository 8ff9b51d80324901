"""Loss functions and accuracy: what the lesson teaches, written from the formulas.

The plain-numpy functions below are the definitions; the tests check them against Paddle's own
(``F.softmax``, ``F.cross_entropy``, ``F.square_error_cost``), which training uses.

* softmax turns K scores into K probabilities: p_k = exp(z_k) / sum_j exp(z_j).
* cross-entropy of one sample is -log p(correct class); a batch's loss is the mean. With labels
  smoothed by eps, the target puts 1 - eps on the digit and eps / K on each of the K.
* the lesson's "before" model regresses the digit's value with square error (y_hat - y)^2.
* accuracy: the share of samples whose predicted digit equals the label (argmax of the ten
  outputs for the classifier; the rounded output for the regression model).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np


def softmax(z, axis: int = -1) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))  # shifting by the max changes nothing but overflow
    return e / e.sum(axis=axis, keepdims=True)


def cross_entropy(probs, labels) -> float:
    """Mean of -log p(correct class) over samples; ``probs`` [N, K], ``labels`` [N] ints."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    return float(np.mean(-np.log(probs[np.arange(len(labels)), labels])))


def softmax_cross_entropy(logits, labels) -> float:
    """Cross-entropy of softmax(logits): what ``F.cross_entropy(logits, labels)`` computes."""
    return cross_entropy(softmax(logits), labels)


def smoothed_cross_entropy(logits, labels, eps: float) -> float:
    """Cross-entropy against smoothed labels (1 - eps on the digit, eps / K on each of the K):
    (1 - eps) * -log p(label) + eps * mean over k of -log p_k. The fast preset trains with it."""
    log_p = np.log(softmax(logits))
    labels = np.asarray(labels).reshape(-1)
    picked = -log_p[np.arange(len(labels)), labels]
    return float(np.mean((1 - eps) * picked + eps * -log_p.mean(axis=-1)))


def unsure_cross_entropy(logits, labels, eps: float = 0.0) -> float:
    """Cross-entropy where label K (``notdigits.UNSURE``: a picture that is not one digit) targets
    1/K on each of the K, and the others are smoothed by eps as above: what
    ``LossKind.training_loss(eps, unsure=True)`` computes."""
    log_p = np.log(softmax(logits))
    labels = np.asarray(labels).reshape(-1)
    k = log_p.shape[-1]
    target = np.eye(k + 1)[labels][:, :k]
    target[labels == k] = 1 / k
    target = (1 - eps) * target + eps / k
    return float(np.mean(-(target * log_p).sum(axis=-1)))


def square_error(predictions, labels) -> float:
    """Mean of (prediction - label)^2: the lesson's regression loss."""
    diff = np.asarray(predictions, np.float64).reshape(-1) - np.asarray(labels, np.float64).reshape(-1)
    return float(np.mean(diff * diff))


def predicted_digits(outputs: np.ndarray) -> np.ndarray:
    """The digit each row of model outputs stands for: argmax of 10 logits, or a rounded value."""
    outputs = np.asarray(outputs)
    if outputs.shape[-1] == 1:
        return np.clip(np.rint(outputs[:, 0]), 0, 9).astype(np.int64)
    return outputs.argmax(axis=-1)


def accuracy(outputs, labels) -> float:
    return float(np.mean(predicted_digits(outputs) == np.asarray(labels).reshape(-1)))


# Why square error learns slowly behind a sigmoid or a softmax: the gradient that reaches the
# output's logit, computed by Paddle's autograd (the closed forms are in the docstrings).

def logit_gradients(p) -> tuple[np.ndarray, np.ndarray]:
    """For a sigmoid output whose probability of the right answer is ``p``, the push on its
    logit z toward the right answer, -dL/dz: (cross-entropy -log p: 1 - p; square error
    (1 - p)^2: 2 p (1 - p)^2). The second vanishes as p -> 0, when the output is surely wrong."""
    import paddle
    import paddle.nn.functional as F

    p = np.asarray(p, np.float64)
    z = paddle.to_tensor(np.log(p / (1 - p)), stop_gradient=False)  # the logit whose sigmoid is p
    out = F.sigmoid(z)
    pushes = []
    for loss in (-paddle.log(out), (out - 1) ** 2):
        (grad,) = paddle.grad(loss.sum(), z)
        pushes.append(-grad.numpy())
    return pushes[0], pushes[1]


def batch_logit_gradients(logits, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a batch of ten logits, (p of the right digit, -dL/dz of its logit under
    cross-entropy, the same under square error on the ten softmax outputs against the one-hot
    label), per sample, by Paddle's autograd."""
    import paddle
    import paddle.nn.functional as F

    z = paddle.to_tensor(np.asarray(logits, np.float32), stop_gradient=False)
    labels = np.asarray(labels).reshape(-1)
    hot = paddle.to_tensor(np.eye(z.shape[-1], dtype=np.float32)[labels])
    probs = F.softmax(z)
    rows = np.arange(len(labels))
    pushes = []
    for loss in (-(hot * paddle.log(probs)).sum(), ((probs - hot) ** 2).sum()):
        (grad,) = paddle.grad(loss, z, retain_graph=True)
        pushes.append(-grad.numpy()[rows, labels])
    return probs.numpy()[rows, labels], pushes[0], pushes[1]


@dataclass(frozen=True)
class LossKind:
    """One way to train the network: how many outputs it has and the Paddle loss on a batch."""
    name: str
    num_outputs: int
    loss: Callable  # (outputs [N, K] tensor, labels [N] int64 tensor) -> scalar tensor

    def training_loss(self, label_smoothing: float = 0.0, unsure: bool = False) -> Callable:
        """The loss to train with: ``loss`` itself, or cross-entropy against labels smoothed by
        ``label_smoothing`` (1 - eps on the digit, eps / 10 on each of the ten); with ``unsure``,
        label 10 (a picture that is not one digit) targets 1/10 on each of the ten."""
        if not (label_smoothing or unsure):
            return self.loss
        if self.name != "cross_entropy":
            raise ValueError(f"soft targets are for cross-entropy, not {self.name}")
        if unsure:
            return functools.partial(_unsure_cross_entropy_loss, label_smoothing=label_smoothing)
        return functools.partial(_cross_entropy_loss, label_smoothing=label_smoothing)


# Paddle is imported where a loss is computed, not on import: predicting with an ONNX model
# uses this module's numpy functions without the training framework.

def _cross_entropy_loss(logits, labels, label_smoothing: float = 0.0):
    import paddle.nn.functional as F

    if label_smoothing:
        return F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    return F.cross_entropy(logits, labels)  # softmax + mean of -log p(label), fused and stable


def _unsure_cross_entropy_loss(logits, labels, label_smoothing: float = 0.0):
    import paddle.nn.functional as F

    k = logits.shape[-1]
    hot = F.one_hot(labels, k + 1)  # label k: not one digit
    target = hot[:, :k] + hot[:, k:] / k
    if label_smoothing:
        target = (1 - label_smoothing) * target + label_smoothing / k
    return F.cross_entropy(logits, target, soft_label=True)


def _square_error_loss(outputs, labels):
    import paddle
    import paddle.nn.functional as F

    target = paddle.cast(labels, "float32").reshape([-1, 1])
    return paddle.mean(F.square_error_cost(outputs, target))


LOSSES = {
    "cross_entropy": LossKind("cross_entropy", 10, _cross_entropy_loss),
    "mse": LossKind("mse", 1, _square_error_loss),
}
