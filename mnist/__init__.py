"""paddle-mnist: the PaddlePaddle lesson on loss functions for handwritten digits, as a real tool.

One module per concern; docs/architecture.md maps them and says which may import which.
"""

import warnings

from mnist import cpu as _cpu

_cpu.use_fast_mkl_path()

# Paddle warns about a missing C++ compiler cache on import; it concerns custom C++ ops only.
warnings.filterwarnings("ignore", message="No ccache found")
