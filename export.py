"""Export the trained network (Paddle inference model, ONNX): ``python export.py --help``."""
import sys

from mnist.export import main

if __name__ == "__main__":
    sys.exit(main())
