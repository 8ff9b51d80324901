"""Run the lesson notebooks from their sources and write each as an .ipynb with its outputs.

    python notebooks/build.py [notebooks/lesson_cn.py notebooks/lesson_en.py]
    python notebooks/build.py --run-only notebooks/lesson_cn.py   # execute, write nothing

The jupytext percent scripts (``lesson_*.py``) are the source of truth, reviewed as code; the
``.ipynb`` beside each is made from it by this script, executed top to bottom in a fresh kernel
from the repository's root (so that ``work/`` is the repository's), ready to open in Jupyter or
upload to AI Studio. Needs the ``[notebook]`` extra (jupytext, nbclient, ipykernel) and the
MNIST data (``MNIST_DIR``, or Paddle's download cache).
"""

import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SOURCES = [HERE / "lesson_cn.py", HERE / "lesson_en.py"]


def build(source: Path, write: bool = True) -> Path:
    """Execute ``source`` in a fresh kernel (an error in a cell raises); with ``write``, save it
    with its outputs as the .ipynb beside it."""
    notebook = jupytext.read(source)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE.parent)}}).execute()
    target = source.with_suffix(".ipynb")
    if write:
        jupytext.write(notebook, target)
    return target


def main() -> int:
    args = sys.argv[1:]
    write = "--run-only" not in args  # CI's runs on other Pythons and Paddles (.ci/versions)
    for source in [Path(a).resolve() for a in args if a != "--run-only"] or SOURCES:
        start = time.perf_counter()
        target = build(source, write)
        print(f"{source.relative_to(HERE.parent)}: executed in {time.perf_counter() - start:.0f} s"
              + (f", {target.stat().st_size / 1024:.0f} KiB" if write else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
