"""The network: the lesson's layers, and the faster forward computes the same outputs and gradients."""

import re

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from mnist.data import MnistDataset
from mnist.model import CONVS, MNIST


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


@pytest.mark.parametrize("conv", CONVS)
def test_paddles_tools_see_the_lessons_layers(conv, capsys):
    """paddle.summary, paddle.Model.summary, paddle.flops and forward hooks see conv1, pool1,
    conv2 and pool2 with their shapes and parameters, on the fast paths too, and the network
    computes the same function while watched."""
    net = MNIST(conv=conv)
    x = paddle.to_tensor(np.random.default_rng(0).random((3, 1, 28, 28), np.float32))
    fast = net(x).numpy()

    assert paddle.summary(net, (1, 1, 28, 28))["total_params"] == 20350
    # (layer type, output shape, parameters), in the lesson's order; summary numbers layers by
    # how many of their kind were ever made, so the numbers are left out
    rows = re.findall(r"(Conv2D|MaxPool2D|Linear)-\d+ +\[\[.*?\]\] +(\[.*?\]) +([\d,]+)",
                      capsys.readouterr().out)
    assert rows == [("Conv2D", "[1, 20, 28, 28]", "520"), ("MaxPool2D", "[1, 20, 14, 14]", "0"),
                    ("Conv2D", "[1, 20, 14, 14]", "10,020"), ("MaxPool2D", "[1, 20, 7, 7]", "0"),
                    ("Linear", "[1, 10]", "9,810")]
    assert paddle.Model(net).summary((1, 1, 28, 28))["total_params"] == 20350

    seen = []
    hooks = [getattr(net, name).register_forward_post_hook(
        lambda layer, _inputs, out, name=name: seen.append((name, out.shape)))
        for name in ("conv1", "pool1", "conv2", "pool2")]
    watched = net(x).numpy()
    for hook in hooks:
        hook.remove()
    assert seen == [("conv1", [3, 20, 28, 28]), ("pool1", [3, 20, 14, 14]),
                    ("conv2", [3, 20, 14, 14]), ("pool2", [3, 20, 7, 7])]
    np.testing.assert_allclose(watched, fast, rtol=1e-4, atol=1e-5)

    # paddle.flops counts through the same hooks. (Paddle 3.3 then fails to print its table
    # with numpy >= 2.4, for any network, Paddle's own LeNet too: int() of a 1-element array.)
    expected = {"conv1": 15680 * (25 + 1), "conv2": 3920 * (500 + 1), "fc": 980 * 10}
    try:
        assert paddle.flops(net, [1, 1, 28, 28]) == sum(expected.values())
    except TypeError as exc:
        assert "0-dimensional" in str(exc)
        counted = {name: int(getattr(net, name)._buffers["total_ops"].numpy()[0])
                   for name in expected}
        assert counted == expected
