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
Processes that start together (a distributed launch) take a file lock (``filelock``, on every
platform): one builds, the others wait and load it. Every load runs the operator as training
does, two blocks on a small random batch of images that want no gradient, and checks it against
Paddle's layers (outputs and gradients). Where it cannot be built or loaded, or fails that check
(not Linux x86_64, no compiler, no headers, another oneDNN, a Paddle that runs custom operators
otherwise), ``load()`` prints one line saying why and returns None, and the network uses
Paddle's own ops.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from filelock import FileLock

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
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        # it links Paddle's libdnnl.so.3 the way GNU ld does; the headers' wheel is installed
        # only here too (pyproject.toml's marker)
        raise Unavailable(f"the oneDNN operator is built on Linux x86_64 only, not on "
                          f"{sys.platform} {platform.machine()}")
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


def register(path: Path):
    """Load the compiled operator into Paddle; returns block(x, conv, x_last, out_last) ->
    output tensor (x_last, out_last: that side is channels last, [N, H, W, C])."""
    from paddle import _C_ops
    from paddle.utils.cpp_extension import load_op_meta_info_and_register_op

    load_op_meta_info_and_register_op(str(path))

    def block(x, conv, x_last=False, out_last=False):
        return _C_ops._run_custom_op(OP, x, conv.weight, conv.bias, not x.stop_gradient,
                                     x_last, out_last)[0]

    return block


def self_check(block) -> None:
    """Unavailable unless ``block`` runs as training runs it and gives the lesson's
    conv -> relu -> maxpool: two blocks on a small random batch, the first on images that want
    no gradient (the operator computes none for them), the second on its output; the outputs
    and every weight's and bias's gradient are compared with Paddle's layers. Catches a oneDNN
    that does not match the headers, and a Paddle that runs custom operators otherwise (3.0.0
    refused the first block's empty input gradient in backward, after a one-block check passed)."""
    import numpy as np
    import paddle
    import paddle.nn.functional as F
    from paddle import nn

    def paddles_own(x, conv, **_layout):
        return F.max_pool2d(F.relu(conv(x)), 2, 2)

    rng = np.random.default_rng(0)
    # The first layer draws its weights from Paddle's generator and the second is set from
    # numpy, so the check takes from a seeded run's random stream exactly what 0.2.0's took
    # (one Conv2D(3, 4, 5)): the same seed still gives the same network.
    second = nn.initializer.Assign(rng.standard_normal((3, 4, 5, 5)).astype("float32") * 0.1)
    convs = [nn.Conv2D(3, 4, 5, padding=2),
             nn.Conv2D(4, 3, 5, padding=2, weight_attr=paddle.ParamAttr(initializer=second))]
    images = paddle.to_tensor(rng.standard_normal((2, 3, 8, 8)).astype("float32"))
    weights = paddle.to_tensor(rng.standard_normal((2, 3, 2, 2)).astype("float32"))
    results = []
    for run in (block, paddles_own):
        try:
            out = run(run(images, convs[0], out_last=True), convs[1], x_last=True)
            (out * weights).sum().backward()
        except Exception as exc:  # Paddle's errors are ValueError, RuntimeError, OSError...
            reason = (str(exc).strip().splitlines() or [""])[0][:160]
            raise Unavailable(f"the operator fails in a training step on this Paddle "
                              f"({exc.__class__.__name__}: {reason})") from exc
        results.append([out.numpy()] + [p.grad.numpy() for conv in convs
                                        for p in (conv.weight, conv.bias)])
        for conv in convs:
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
                with FileLock(path.parent / ".lock"):  # one process builds, the others wait
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
