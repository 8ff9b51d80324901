"""paddle-mnist: the PaddlePaddle lesson on loss functions for handwritten digits, as a real tool.

One module per concern: ``data`` (MNIST files, ``MnistDataset``), ``model`` (the network),
``losses`` (softmax, cross-entropy, square error), ``training`` (``train.py``), ``prediction``
(``predict.py``), ``runlog`` (run directories and loss logs) and ``compare`` (``compare.py``).
"""

import warnings

# Paddle warns about a missing C++ compiler cache on import; it concerns custom C++ ops only.
warnings.filterwarnings("ignore", message="No ccache found")
