"""Compare training runs side by side: ``python compare.py RUN [RUN ...]`` (see --help)."""
import sys

from mnist.compare import main

if __name__ == "__main__":
    sys.exit(main())
