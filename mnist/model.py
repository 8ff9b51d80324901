"""The lesson's network: two convolution blocks and one fully connected layer.

    Conv2D(1->20, 5x5, pad 2) -> ReLU -> MaxPool2D(2) ->
    Conv2D(20->20, 5x5, pad 2) -> ReLU -> MaxPool2D(2) -> reshape [N, 980] -> Linear(980->K)

K = 10 for the classifier (logits, one per digit, trained with softmax cross-entropy) and K = 1 for
the lesson's "before" model, a regression of the digit's value trained with square error.
"""

import paddle
import paddle.nn.functional as F
from paddle import nn


class MNIST(nn.Layer):
    def __init__(self, num_outputs: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2D(1, 20, kernel_size=5, stride=1, padding=2)
        self.pool1 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2D(20, 20, kernel_size=5, stride=1, padding=2)
        self.pool2 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.fc = nn.Linear(980, num_outputs)

    def forward(self, x):  # x: float32 [N, 1, 28, 28]
        x = self.pool1(F.relu(self.conv1(x)))   # [N, 20, 14, 14]
        x = self.pool2(F.relu(self.conv2(x)))   # [N, 20, 7, 7]
        x = paddle.reshape(x, [x.shape[0], 980])
        return self.fc(x)                       # [N, K]
