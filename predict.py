"""Predict the digit in pictures: ``python predict.py IMAGE [IMAGE ...]`` (see --help)."""
import sys

from mnist.runtime import launch

if __name__ == "__main__":
    sys.exit(launch("predict.py", "mnist.prediction"))
