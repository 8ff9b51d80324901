"""The lesson's network: two convolution blocks and one fully connected layer.

    Conv2D(1->20, 5x5, pad 2) -> ReLU -> MaxPool2D(2) ->
    Conv2D(20->20, 5x5, pad 2) -> ReLU -> MaxPool2D(2) -> reshape [N, 980] -> Linear(980->K)

K = 10 for the classifier (logits, one per digit, trained with softmax cross-entropy) and K = 1 for
the lesson's "before" model, a regression of the digit's value trained with square error.

``forward`` computes exactly this function in a cheaper order. For one channel with bias b,

    maxpool(relu(conv(x) + b)) == relu(maxpool(conv(x)) + b)

because adding the same b to all four values of a 2x2 window does not change which one is the
largest, and relu is monotonic, so it commutes with max. The right-hand side adds the bias and
applies relu to a tensor four times smaller, and its gradients are as cheap (Paddle's broadcast
bias add and its gradient were about a third of a training step; see benchmarks/train_speed.py).
Two more choices only change which Paddle kernels run, measured on this project's 2-core CPU:
max pooling asks for the positions of the maxima (``return_mask=True``), so its gradient routes
through them instead of searching every window again (3x faster pooling forward + backward);
and the bias is expanded to the full shape before the add, so its gradient is a plain sum
instead of the broadcast-add's slower reduction.
With ``conv="onednn"`` (what train.py uses) each block is one C++ operator on oneDNN instead
(mnist/conv_block.py: the same function, about 2.4x faster to train; built at first use, and
Paddle's ops where it cannot be). Inside ``paddle.jit`` (export) the Paddle ops always run.
``forward_lesson`` is the lesson's order, layer by layer. ``forward`` takes it whenever
something watches a layer through a forward hook, which is how ``paddle.summary``,
``paddle.Model.summary``, ``paddle.flops`` and a user's own hooks see a network: they then see
``conv1``, ``pool1``, ``conv2`` and ``pool2`` with their real shapes (the fused paths call the
layers' weights, not the layers, so no hook of theirs would fire). Training registers no hooks
and keeps the fast path; both orders give the same outputs and gradients (tests/test_model.py).
The parameters are the same ``paddle.nn`` layers either way, so a saved ``state_dict`` loads
into the lesson's own class too.
"""

import paddle
import paddle.nn.functional as F
from paddle import nn

from mnist import conv_block

CONVS = ("onednn", "paddle")


class MNIST(nn.Layer):
    def __init__(self, num_outputs: int = 10, conv: str = "paddle"):
        super().__init__()
        if conv not in CONVS:
            raise ValueError(f"conv must be one of {CONVS}, not {conv!r}")
        self.fast_block = conv_block.load() if conv == "onednn" else None
        self.conv1 = nn.Conv2D(1, 20, kernel_size=5, stride=1, padding=2)
        self.pool1 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2D(20, 20, kernel_size=5, stride=1, padding=2)
        self.pool2 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.fc = nn.Linear(980, num_outputs)

    def forward(self, x):  # x: float32 [N, 1, 28, 28]
        if self._watched():
            return self.forward_lesson(x)
        if self._fast(x):  # the first block's output goes to the second channels last
            x = self.fast_block(x, self.conv1, out_last=True)  # [N, 14, 14, 20]
            x = self.fast_block(x, self.conv2, x_last=True)    # [N, 20, 7, 7]
        else:
            x = self._block(x, self.conv1, self.pool1)  # [N, 20, 14, 14]
            x = self._block(x, self.conv2, self.pool2)  # [N, 20, 7, 7]
        x = paddle.reshape(x, [x.shape[0], 980])
        return self.fc(x)                            # [N, K]

    def _watched(self) -> bool:
        """True when a forward hook is registered on one of the convolution blocks' layers."""
        return any(layer._forward_pre_hooks or layer._forward_post_hooks
                   for layer in (self.conv1, self.pool1, self.conv2, self.pool2))

    def _fast(self, x) -> bool:
        """The oneDNN operator computes the blocks: built, in eager mode, on the CPU."""
        return self.fast_block is not None and paddle.in_dynamic_mode() and x.place.is_cpu_place()

    def _block(self, x, conv: nn.Conv2D, pool: nn.MaxPool2D):
        """pool(relu(conv(x))) with the bias added after pooling (the same function, cheaper)."""
        y = F.conv2d(x, conv.weight, None, stride=conv._stride, padding=conv._padding)
        y, _ = F.max_pool2d(y, pool.ksize, pool.stride, return_mask=True)
        bias = paddle.reshape(conv.bias, [1, -1, 1, 1]).expand(y.shape)
        return F.relu(y + bias)

    def forward_lesson(self, x):
        """The lesson's order of operations, layer by layer."""
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = paddle.reshape(x, [x.shape[0], 980])
        return self.fc(x)
