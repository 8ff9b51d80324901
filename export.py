"""Export the trained network (Paddle inference model, ONNX): ``python export.py --help``."""
import sys

from mnist.runtime import launch

if __name__ == "__main__":
    sys.exit(launch("export.py", "mnist.export"))
