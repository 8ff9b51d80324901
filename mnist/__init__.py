"""paddle-mnist: the PaddlePaddle lesson on loss functions for handwritten digits, as a real tool.

One module per concern: ``data`` (MNIST files, ``MnistDataset``), ``model`` (the network),
``losses`` (softmax, cross-entropy, square error), ``training`` (``train.py``), ``augment``
(random changes to training images), ``pictures`` (picture files -> network inputs),
``prediction`` (``predict.py``), ``runlog`` (run directories and loss logs), ``compare``
(``compare.py``), ``files`` (atomic writes) and ``cpu`` (threads, and MKL's fast code path on
AMD processors, set here on import).
"""

import warnings

from mnist import cpu as _cpu

_cpu.use_fast_mkl_path()

# Paddle warns about a missing C++ compiler cache on import; it concerns custom C++ ops only.
warnings.filterwarnings("ignore", message="No ccache found")
