"""Which PaddlePaddle this machine has, and every command's start: ``launch``.

Paddle is not a hard dependency of this package (docs/install.md says why): the user installs
the CPU wheel (``pip install -e ".[cpu]"``) or a GPU build from Paddle's own index, as with
PaddleOCR and PaddleX. So a command may meet no Paddle, or an older one than the project was
tested on. ``launch`` runs a command's ``main`` and turns both into one line and exit 2:

- an older Paddle than ``FLOOR``: read from the installed package's metadata before anything
  imports Paddle (an old release may fail on import of the project's code in its own way);
- no Paddle, when the command needs it: its import fails, at the command module's import
  (train.py) or later (``cli.run`` passes that ``ModuleNotFoundError`` on to here). compare.py
  and predict.py with an ONNX model need no Paddle and run without it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import re

from mnist import cli

# The oldest Paddle the project runs on (CI trains, predicts and runs a notebook on it); the
# [cpu] extra of pyproject.toml says the same (tests/test_platforms.py checks).
FLOOR = "3.0.0"
# Paddle's distributions: the CPU wheel (PyPI), the GPU builds (Paddle's index)
DISTRIBUTIONS = ("paddlepaddle", "paddlepaddle-gpu")
INSTALL = ('python -m pip install "paddlepaddle>={floor}" (CPU), or a GPU build as '
           "https://www.paddlepaddle.org.cn/install/quick says")


def version_tuple(version: str) -> tuple[int, ...]:
    """'3.0.0' -> (3, 0, 0); '3.3.1.post126' -> (3, 3, 1); () when it starts with no number."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    return tuple(int(n) for n in match.groups() if n is not None) if match else ()


def installed_version() -> str | None:
    """Paddle's version by its package's metadata (importing Paddle would take a second or
    two): None with no Paddle; '' for a Paddle of no known distribution (built from source)."""
    if importlib.util.find_spec("paddle") is None:
        return None
    for name in DISTRIBUTIONS:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return ""


def missing() -> str:
    return "PaddlePaddle is not installed; install it: " + INSTALL.format(floor=FLOOR)


def too_old(version: str | None) -> str | None:
    """The one-line problem with Paddle ``version``, or None (none, unknown and develop
    builds, 0.0.0, are let through)."""
    have = version_tuple(version or "")
    if not have or have == (0, 0, 0) or have >= version_tuple(FLOOR):
        return None
    return (f"PaddlePaddle {version} is older than this project needs ({FLOOR} or newer); "
            f"upgrade it: " + INSTALL.format(floor=FLOOR))


def launch(prog: str, module: str, argv=None) -> int:
    """``module``'s ``main(argv)``, after the check of Paddle's version; a Paddle that is
    missing where the command needs it is one line too."""
    problem = too_old(installed_version())
    if problem:
        cli.error(prog, problem)
        return cli.EXIT_USAGE
    try:
        return importlib.import_module(module).main(argv)
    except ModuleNotFoundError as exc:
        if exc.name != "paddle":  # another package, or a part of an installed Paddle
            raise
        cli.error(prog, missing())
        return cli.EXIT_USAGE


# the paddle-mnist-* commands of pyproject.toml
train = functools.partial(launch, "paddle-mnist-train", "mnist.training")
predict = functools.partial(launch, "paddle-mnist-predict", "mnist.prediction")
compare = functools.partial(launch, "paddle-mnist-compare", "mnist.compare")
export = functools.partial(launch, "paddle-mnist-export", "mnist.export")
app = functools.partial(launch, "paddle-mnist-app", "mnist.app")
