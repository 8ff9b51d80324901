"""The fast preset on a GPU: ``train.py --preset fast --device gpu``, whole commands, by seed.

    python benchmarks/gpu_fast.py [--seeds 1 2 3] [--datafile work/mnist.json.gz]

Needs a GPU build of Paddle that sees a GPU (docs/install.md); elsewhere it says so and stops.
Each run is its own fresh process with the environment this script was started with, timed
from start to end as ``time_to_accuracy.py`` times the CPU runs (its ``timed``), after one
short untimed run that builds the data file. On the GPU the network uses Paddle's own
convolutions (the oneDNN operator is the CPU's). Prints wall time, eval and valid accuracy and
peak host memory per seed and their median; the figures go into docs/results.md (Training ›
The fast preset on a GPU), which says "not measured yet" until someone runs this on a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from time_to_accuracy import START_ENV, timed, warm_up

GPU_CHECK = ("import paddle; print(paddle.device.is_compiled_with_cuda() "
             "and paddle.device.cuda.device_count() > 0)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    args = parser.parse_args()
    seen = subprocess.run([sys.executable, "-c", GPU_CHECK], env=START_ENV, capture_output=True,
                          text=True)
    if seen.stdout.strip() != "True":
        print("no GPU here (this Paddle has no CUDA, or sees no GPU): nothing measured")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(args.datafile, tmp, "--device", "gpu")
        runs = []
        for seed in args.seeds:
            r = timed([sys.executable, "train.py", "--preset", "fast", "--device", "gpu",
                       "--seed", str(seed), "--datafile", args.datafile, "--run-dir",
                       f"{tmp}/run-{seed}-{time.time_ns()}", "--save", f"{tmp}/fast.pdparams"])
            if r:
                runs.append(r)
                print(f"  seed {seed}: {r['wall']:6.1f} s   eval {100 * r['accuracy']:.2f}%   "
                      f"valid {100 * r['valid']:.2f}%   peak host RSS {r['rss_mib']:.0f} MiB",
                      flush=True)
    if not runs:
        return 1
    print(f"median wall {statistics.median(r['wall'] for r in runs):.1f} s; eval accuracy "
          + " ".join(f"{100 * r['accuracy']:.2f}%" for r in runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
