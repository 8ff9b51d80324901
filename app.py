"""A local web app to draw a digit and look at runs: ``python app.py --help``."""
import sys

from mnist.runtime import launch

if __name__ == "__main__":
    sys.exit(launch("app.py", "mnist.app"))
