"""Predict the digit in pictures: ``python predict.py IMAGE [IMAGE ...]`` (see --help)."""
import sys

from mnist.prediction import main

if __name__ == "__main__":
    sys.exit(main())
