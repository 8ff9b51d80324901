"""The network: the lesson's layers, and the faster forward computes the same outputs and gradients."""

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from mnist.data import MnistDataset
from mnist.model import MNIST


def outputs_and_grads(model, forward, x, y, num_outputs):
    out = forward(x)
    if num_outputs == 10:
        loss = F.cross_entropy(out, y)
    else:
        loss = F.square_error_cost(out, y.astype("float32")).mean()
    loss.backward()
    grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
    model.clear_gradients()
    return out.numpy(), grads


@pytest.mark.parametrize("conv", ["paddle", "onednn"])
@pytest.mark.parametrize("num_outputs", [10, 1])
def test_fast_forward_equals_the_lesson_layers(datafile, num_outputs, conv):
    """Both ways train.py can run a block (Paddle's ops in a cheaper order, or the oneDNN
    operator of mnist/conv_block.py) against the lesson's nn.Conv2D / MaxPool2D layers."""
    ds = MnistDataset("valid", datafile)
    x, y = paddle.to_tensor(ds.images[:200]), paddle.to_tensor(ds.labels[:200, None])
    paddle.seed(7)
    model = MNIST(num_outputs, conv=conv)
    assert (model.fast_block is not None) == (conv == "onednn"), "the oneDNN operator was not built"
    # a shifted bias makes many pre-activations negative, so relu and pooling ties both occur
    model.conv1.bias.set_value(model.conv1.bias.numpy() - 0.1)
    fast_out, fast_grads = outputs_and_grads(model, model.forward, x, y, num_outputs)
    lesson_out, lesson_grads = outputs_and_grads(model, model.forward_lesson, x, y, num_outputs)
    assert fast_out.shape == (200, num_outputs)
    np.testing.assert_allclose(fast_out, lesson_out, rtol=1e-5, atol=1e-6)
    assert fast_grads.keys() == lesson_grads.keys() and len(fast_grads) == 6
    for name in fast_grads:
        scale = np.abs(lesson_grads[name]).max()
        np.testing.assert_allclose(fast_grads[name], lesson_grads[name], rtol=1e-4,
                                   atol=1e-5 * scale, err_msg=name)


def test_parameters_are_the_lessons_layers():
    shapes = {name: p.shape for name, p in MNIST().named_parameters()}
    assert shapes == {"conv1.weight": [20, 1, 5, 5], "conv1.bias": [20],
                      "conv2.weight": [20, 20, 5, 5], "conv2.bias": [20],
                      "fc.weight": [980, 10], "fc.bias": [10]}
    assert MNIST(1).fc.weight.shape == [980, 1]
