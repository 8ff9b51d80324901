"""Speed of predict.py: start-to-answer for one picture, and pictures per second for 1000.

    python benchmarks/predict.py [--params work/mnist.pdparams]

Times, in one run and interleaved (median of --repeats): a bare ``python -c "import paddle"``;
``python predict.py`` on one picture; ``python predict.py`` on a folder of 1000 picture files
(eval-split digits written as 112x112 PNGs, dark on white). Targets: one picture costs at most
0.5 s more than the bare import; the folder of 1000 runs at >= 500 pictures/s.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="work/mnist.pdparams")
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="work/bench_pictures")
    args = parser.parse_args()
    from mnist.data import load_split

    images, _labels = load_split("eval", args.datafile)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(1000):
        pixels = np.round(255 * (1 - images[i, 0])).astype(np.uint8)
        Image.fromarray(pixels).resize((112, 112), Image.Resampling.LANCZOS).save(out / f"{i:04d}.png")
    one = str(out / "0000.png")
    py = sys.executable
    runs = {"import paddle": [], "predict 1": [], "predict 1000": []}
    for _ in range(args.repeats):
        runs["import paddle"].append(timed([py, "-c", "import paddle"]))
        runs["predict 1"].append(timed([py, "predict.py", "--params", args.params, one]))
        runs["predict 1000"].append(timed([py, "predict.py", "--params", args.params, str(out)]))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"bare `import paddle`:          {med['import paddle']:.2f} s")
    print(f"predict.py, one picture:       {med['predict 1']:.2f} s "
          f"(+{med['predict 1'] - med['import paddle']:.2f} s over the import; target <= 0.5 s)")
    print(f"predict.py, 1000 pictures:     {med['predict 1000']:.2f} s = "
          f"{1000 / med['predict 1000']:.0f} pictures/s for the whole command, "
          f"{1000 / (med['predict 1000'] - med['predict 1']):.0f} pictures/s after start-up "
          f"(target >= 500)")


if __name__ == "__main__":
    main()
