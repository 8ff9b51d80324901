"""Compare training runs side by side: ``python compare.py RUN [RUN ...]`` (see --help)."""
import sys

from mnist.runtime import launch

if __name__ == "__main__":
    sys.exit(launch("compare.py", "mnist.compare"))
