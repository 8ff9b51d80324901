"""Train the lesson's MNIST network: ``python train.py --help``."""
import sys

from mnist.training import main

if __name__ == "__main__":
    sys.exit(main())
