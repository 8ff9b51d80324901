"""The network's convolution blocks as one C++ operator on oneDNN: built once, cached, optional.

``mnist/conv_block.cc`` computes a whole block, relu(maxpool(conv(x) + b)), forward and
backward, with oneDNN, the deep-learning primitives library that Paddle's CPU wheel ships
(``paddle/libs/libdnnl.so.3``). Paddle's own CPU convolution is im2col plus one matrix product
per image; oneDNN's runs the batch in a blocked layout with kernels made for this processor.
On this project's 2-core machine a training step is about 2.3-2.4x faster (benchmarks/train_speed.py).
It computes the same function as the Paddle ops of mnist/model.py (tests/test_model.py
checks outputs and gradients), and the parameters are the same ``nn.Conv2D`` weights and biases.

At first use ``load()`` compiles it with Paddle's ``paddle.utils.cpp_extension`` (a C++
compiler and the oneDNN headers from PyPI's ``onednn-devel-cpu-iomp``, a dependency of this
package; about 15 s, once) into a cache folder:

    $PADDLE_MNIST_CACHE, else $XDG_CACHE_HOME/paddle-mnist, else ~/.cache/paddle-mnist

named by a hash of the source, Paddle's version and this Python, so an upgrade builds anew.
Processes that start together (a distributed launch) take a file lock: one builds, the others
wait and load it. Every load checks the operator against Paddle's layers on a small random batch (outputs and
gradients). Where it cannot be built or loaded, or fails that check (no compiler, no headers,
another oneDNN), ``load()`` prints one line saying why and returns None, and the network uses
Paddle's own ops.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("conv_block.cc")
OP = "mnist_conv_block"
NOTICE = "paddle-mnist:"
_op = None  # the loaded operator; False once it is known to be unavailable in this process


class Unavailable(Exception):
    """The operator cannot be built or loaded here; the message says why, in a few words."""


def cache_dir() -> Path:
    if os.environ.get("PADDLE_MNIST_CACHE"):
        return Path(os.environ["PADDLE_MNIST_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "paddle-mnist"


def onednn_headers() -> Path | None:
    """The include folder of PyPI's onednn-devel-cpu-iomp (installed under the environment's,
    the base Python's (a venv that sees its packages) or the user's data path), or None."""
    for base in (sysconfig.get_paths()["data"], sys.base_prefix, site.getuserbase()):
        include = Path(base) / "include"
        if (include / "oneapi" / "dnnl" / "dnnl.hpp").is_file():
            return include
    return None


def compiler() -> str:
    """The C++ compiler setuptools will call: $CXX, else the one Python was built with."""
    return (os.environ.get("CXX") or sysconfig.get_config_var("CXX") or "g++").split()[0]


def library_path() -> Path:
    import paddle

    key = hashlib.sha256(SOURCE.read_bytes())
    key.update(f"{paddle.__version__} {paddle.__file__} {sys.version}".encode())
    return cache_dir() / f"conv_block-{key.hexdigest()[:16]}.so"


def build_needs() -> Path:
    """What a build needs is here (else Unavailable); returns the oneDNN include folder."""
    if shutil.which(compiler()) is None:
        raise Unavailable(f"no C++ compiler ({compiler()} not found)")
    include = onednn_headers()
    if include is None:
        raise Unavailable("no oneDNN headers (pip install onednn-devel-cpu-iomp)")
    return include


def build(target: Path, include: Path) -> None:
    """Compile the operator into ``target`` (atomically: a temporary folder, then rename)."""
    import paddle

    libs = Path(paddle.__file__).parent / "libs"
    name = OP  # the extension module is named after its operator
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        script = (
            "from paddle.utils.cpp_extension import load\n"
            f"load(name={name!r}, sources=[{str(SOURCE)!r}], build_directory={tmp!r},\n"
            f"     extra_cxx_cflags=['-O3'], extra_include_paths=[{str(include)!r}],\n"
            f"     extra_ldflags=['-L{libs}', '-l:libdnnl.so.3', '-Wl,-rpath,{libs}'])\n")
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        built = Path(tmp) / name / f"{name}.so"
        if done.returncode != 0 or not built.is_file():
            errors = [line for line in (done.stderr + done.stdout).splitlines()
                      if "error" in line.lower()]
            raise Unavailable("the build failed: " + (errors[0].strip()[:200] if errors
                                                      else f"exit code {done.returncode}"))
        os.replace(built, target)


@contextlib.contextmanager
def build_lock(folder: Path):
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def register(path: Path):
    """Load the compiled operator into Paddle; returns block(x, conv) -> output tensor."""
    from paddle import _C_ops
    from paddle.utils.cpp_extension import load_op_meta_info_and_register_op

    load_op_meta_info_and_register_op(str(path))

    def block(x, conv):
        return _C_ops._run_custom_op(OP, x, conv.weight, conv.bias, not x.stop_gradient)[0]

    return block


def self_check(block) -> None:
    """Unavailable unless ``block`` gives the lesson's conv -> relu -> maxpool, and its
    gradients, on a small random batch (catches a oneDNN that does not match the headers)."""
    import numpy as np
    import paddle
    import paddle.nn.functional as F
    from paddle import nn

    rng = np.random.default_rng(0)
    conv = nn.Conv2D(3, 4, 5, padding=2)
    x = paddle.to_tensor(rng.standard_normal((2, 3, 8, 8)).astype("float32"), stop_gradient=False)
    results = []
    for run in (block, lambda x, conv: F.max_pool2d(F.relu(conv(x)), 2, 2)):
        out = run(x, conv)
        out.sum().backward()
        results.append([t.numpy().copy() for t in (out, x.grad, conv.weight.grad, conv.bias.grad)])
        x.clear_gradient()
        conv.clear_gradients()
    for got, want in zip(*results):
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            raise Unavailable("the operator's self-check against Paddle's layers failed")


def load():
    """The operator (block(x, conv) -> relu(maxpool(conv(x)))), or None with a one-line notice
    on standard error saying why not. Builds it the first time; later calls cost nothing."""
    global _op
    if _op is None:
        try:
            path = library_path()
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                with build_lock(path.parent):
                    if not path.is_file():
                        include = build_needs()
                        print(f"{NOTICE} building the oneDNN convolution operator (once, about "
                              f"15 s) into {path.parent}", file=sys.stderr, flush=True)
                        build(path, include)
            block = register(path)
            self_check(block)
            _op = block
        except (Unavailable, OSError, RuntimeError, ValueError) as exc:
            print(f"{NOTICE} {exc}; the network uses Paddle's own convolutions "
                  f"(about 2x slower)", file=sys.stderr, flush=True)
            _op = False
    return _op or None
