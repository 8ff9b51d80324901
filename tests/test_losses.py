"""The lesson's formulas in numpy, checked on its worked numbers and against Paddle's losses."""

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from mnist.losses import (
    LOSSES,
    accuracy,
    cross_entropy,
    predicted_digits,
    smoothed_cross_entropy,
    softmax,
    softmax_cross_entropy,
    square_error,
    unsure_cross_entropy,
)


def test_softmax_of_the_lessons_scores():
    p = softmax([3.0, 1.0, -3.0])
    np.testing.assert_allclose(p, [0.88, 0.12, 0.00], atol=0.005)
    assert p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p, F.softmax(paddle.to_tensor([3.0, 1.0, -3.0])).numpy(), rtol=1e-6)


def test_cross_entropy_is_minus_log_of_the_correct_class():
    assert cross_entropy([[0.6, 0.4]], [0]) == pytest.approx(0.51, abs=0.005)
    assert cross_entropy([[0.9, 0.1]], [1]) == pytest.approx(2.30, abs=0.005)


def test_the_three_coin_example():
    # labels 1, 1, 0; predicted probabilities of "1": 0.8, 0.9, 0.3
    probs = [[0.2, 0.8], [0.1, 0.9], [0.7, 0.3]]
    assert cross_entropy(probs, [1, 1, 0]) == pytest.approx(0.228, abs=0.0005)
    ours = F.cross_entropy(paddle.to_tensor(probs), paddle.to_tensor([1, 1, 0]), use_softmax=False)
    assert float(ours) == pytest.approx(cross_entropy(probs, [1, 1, 0]), rel=1e-6)


def test_numpy_and_paddle_agree_on_a_batch_of_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3, size=(64, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=64)
    paddle_loss = LOSSES["cross_entropy"].loss(paddle.to_tensor(logits), paddle.to_tensor(labels))
    assert float(paddle_loss) == pytest.approx(softmax_cross_entropy(logits, labels), rel=1e-5)
    outputs = rng.normal(loc=4, scale=3, size=(64, 1)).astype(np.float32)
    paddle_mse = LOSSES["mse"].loss(paddle.to_tensor(outputs), paddle.to_tensor(labels))
    assert float(paddle_mse) == pytest.approx(square_error(outputs, labels), rel=1e-5)


def test_accuracy_of_both_model_kinds():
    logits = np.eye(10)[[3, 1, 4, 1]]
    assert accuracy(logits, [3, 1, 4, 0]) == 0.75
    assert predicted_digits(np.array([[2.6], [-1.0], [11.0], [4.4]])).tolist() == [3, 0, 9, 4]
    assert accuracy(np.array([[2.6], [0.2]]), [3, 1]) == 0.5


def test_label_smoothing_trains_on_the_smoothed_target():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3, size=(32, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=32)
    smoothed = LOSSES["cross_entropy"].training_loss(0.1)
    got = float(smoothed(paddle.to_tensor(logits), paddle.to_tensor(labels)))
    assert got == pytest.approx(smoothed_cross_entropy(logits, labels, 0.1), rel=1e-5)
    assert got != pytest.approx(softmax_cross_entropy(logits, labels), rel=1e-3)
    assert LOSSES["cross_entropy"].training_loss(0.0) is LOSSES["cross_entropy"].loss
    with pytest.raises(ValueError):
        LOSSES["mse"].training_loss(0.1)


def test_not_one_digit_trains_toward_equal_probabilities():
    """Label 10 (notdigits.UNSURE) targets 1/10 on each digit; the others are plain labels."""
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=3, size=(32, 10)).astype(np.float32)
    labels = np.where(rng.random(32) < 0.3, 10, rng.integers(0, 10, size=32))
    for eps in (0.0, 0.05):
        loss = LOSSES["cross_entropy"].training_loss(eps, unsure=True)
        got = float(loss(paddle.to_tensor(logits), paddle.to_tensor(labels)))
        assert got == pytest.approx(unsure_cross_entropy(logits, labels, eps), rel=1e-5)
    digits = labels < 10
    plain = float(LOSSES["cross_entropy"].training_loss(0.0, unsure=True)(
        paddle.to_tensor(logits[digits]), paddle.to_tensor(labels[digits])))
    assert plain == pytest.approx(softmax_cross_entropy(logits[digits], labels[digits]), rel=1e-5)
    # the unsure rows' loss is least, log 10, where all ten are equal
    flat = np.zeros((4, 10), np.float32)
    assert unsure_cross_entropy(flat, [10] * 4) == pytest.approx(np.log(10))
    assert unsure_cross_entropy(flat + np.eye(10)[:4] * 5, [10] * 4) > np.log(10) + 0.5



def test_the_gradient_at_the_logit_is_computed_not_drawn():
    """Autograd's push on the right answer's logit matches the closed forms: 1 - p for
    cross-entropy, 2p(1 - p)^2 for square error behind a sigmoid, which vanishes as p -> 0."""
    from mnist.losses import batch_logit_gradients, logit_gradients

    p = np.array([0.001, 0.1, 0.5, 0.9, 0.999])
    ce, se = logit_gradients(p)
    np.testing.assert_allclose(ce, 1 - p, rtol=1e-6)
    np.testing.assert_allclose(se, 2 * p * (1 - p) ** 2, rtol=1e-6)
    assert se[0] < 0.003 < 0.99 < ce[0]  # surely wrong: square error barely pushes
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=4, size=(16, 10))
    labels = rng.integers(0, 10, size=16)
    p_right, ce, se = batch_logit_gradients(logits, labels)
    probs = softmax(logits)
    np.testing.assert_allclose(p_right, probs[np.arange(16), labels], rtol=1e-5)
    np.testing.assert_allclose(ce, 1 - p_right, rtol=1e-4, atol=1e-6)
    # square error on the softmax: -dL/dz_y = 2 p_y ((1 - p_y) + sum_k p_k (p_k - y_k))
    hot = np.eye(10)[labels]
    expected = 2 * p_right * ((1 - p_right) + (probs * (probs - hot)).sum(-1))
    np.testing.assert_allclose(se, expected, rtol=1e-3, atol=1e-6)
