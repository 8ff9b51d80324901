"""Speed of predict.py with each kind of model: one picture, start to answer; 1000 pictures.

    python benchmarks/predict_speed.py [--params work/mnist.pdparams] [--export work/export]

Times, in one run and interleaved (median of --repeats), each command in its own fresh process
with the environment this script started with (importing Paddle here would change it):
a bare ``python -c "import paddle"``; and for each model kind (the ``.pdparams`` file, the
exported Paddle inference model, the exported ONNX model) ``python predict.py --model M`` on one
picture and on a folder of 1000 picture files (eval digits as 112x112 PNGs, dark on white).
The export is made first with ``export.py`` if it is not there. Targets: one picture
with ONNX at most 0.35 s and at most 1/3 of the ``.pdparams`` call; 1000 files with ONNX at
>= 3000 pictures/s after start-up. Also times reading the 1000 files alone, in worker processes
as predict.py reads them but with no model: the most a model kind can reach after start-up when
its start-up is too short to hide the reading behind (ONNX Runtime's; Paddle's import is not).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENV = dict(os.environ)  # before anything imports Paddle, which sets OMP_NUM_THREADS=1 in it
REPO = Path(__file__).resolve().parent.parent


def timed(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO, env=ENV)
    return time.perf_counter() - t


READ_ONLY = """
import sys, time
from pathlib import Path
from mnist.prediction import start_reading
jobs = [(str(p), "mnist") for p in sorted(Path(sys.argv[1]).glob("*.png"))]
t = time.perf_counter()
pool, results = start_reading(jobs)
list(results)
pool.close()
pool.join()
print(time.perf_counter() - t)
"""


def read_only(folder: Path) -> float:
    """Seconds to read and prepare the pictures as predict.py's workers do, with no model."""
    done = subprocess.run([sys.executable, "-c", READ_ONLY, str(folder)], check=True,
                          capture_output=True, text=True, cwd=REPO, env=ENV)
    return float(done.stdout)


def write_pictures(datafile: str, out: Path) -> None:
    code = ("import sys; from pathlib import Path; "
            "from mnist.data import load_split; "
            "from mnist.picturesets.mnist_files import write_pictures; "
            f"write_pictures(load_split('eval', {datafile!r})[0][:1000], Path({str(out)!r}), "
            "112, 'dark-on-white')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=ENV)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="work/mnist.pdparams")
    parser.add_argument("--export", default="work/export")
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="work/bench_pictures")
    args = parser.parse_args()
    py = sys.executable
    out = Path(args.out)
    if len(list(out.glob("*.png"))) != 1000:
        write_pictures(args.datafile, out)
    export = Path(args.export)
    if not (export / "mnist.onnx").is_file():
        subprocess.run([py, "export.py", "--params", args.params, "--out", args.export],
                       check=True, cwd=REPO, env=ENV)
    models = {"pdparams": args.params, "paddle-inference": str(export / "mnist.json"),
              "onnx": str(export / "mnist.onnx")}
    one = str(out / "00000.png")
    runs = {"import paddle": [], "read only": []}
    for _ in range(args.repeats):
        runs["import paddle"].append(timed([py, "-c", "import paddle"]))
        runs["read only"].append(read_only(out))
        for kind, model in models.items():
            runs.setdefault(f"{kind} 1", []).append(timed([py, "predict.py", "--model", model, one]))
            runs.setdefault(f"{kind} 1000", []).append(
                timed([py, "predict.py", "--model", model, str(out)]))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"median of {args.repeats}; bare `import paddle`: {med['import paddle']:.2f} s")
    print(f"{'model':18s} {'1 picture':>10s} {'1000 pictures':>14s} {'pictures/s after start-up':>26s}")
    for kind in models:
        t1, t1000 = med[f"{kind} 1"], med[f"{kind} 1000"]
        print(f"{kind:18s} {t1:9.2f}s {t1000:13.2f}s {1000 / max(t1000 - t1, 1e-9):26.0f}")
    print(f"onnx / pdparams, one picture: {med['onnx 1'] / med['pdparams 1']:.2f}")
    print(f"reading the 1000 files alone in predict.py's worker processes, no model: "
          f"{med['read only']:.2f} s ({1000 / med['read only']:.0f} pictures/s)")


if __name__ == "__main__":
    main()
