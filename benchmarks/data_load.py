"""Time the first (JSON-parsing) and cached loads of a split, and the peak memory of each.

    python benchmarks/data_load.py [--datafile work/mnist.json.gz]

Each load runs in a fresh process, so its peak RSS is its own. The first load parses the JSON as
the lesson does (json.load) and writes the binary cache; every later load reads the cache.
"""

import argparse
import os
import subprocess
import sys

CHILD = r"""
import resource, sys, time
t0 = time.perf_counter()
from mnist.data import load_split
t1 = time.perf_counter()
for mode in sys.argv[2].split(","):
    images, labels = load_split(mode, sys.argv[1])
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{t2 - t1:.3f} {peak:.0f} {t1 - t0:.3f}")
"""


def run(datafile, modes):
    out = subprocess.run([sys.executable, "-c", CHILD, datafile, modes], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    args = parser.parse_args()
    if not os.path.exists(args.datafile):
        sys.exit(f"error: {args.datafile} not found; run `python -m mnist.data` first")
    cache = args.datafile + ".cache.npz"
    if os.path.exists(cache):
        os.remove(cache)
    first = run(args.datafile, "train")
    print(f"first load (parse JSON, write cache), train split: {first[0]:6.2f} s, "
          f"peak RSS {first[1]:6.0f} MiB")
    for mode in ("train", "valid", "eval"):
        t, rss, imp = run(args.datafile, mode)
        print(f"cached load, {mode:5s} split:                  {t:6.3f} s, peak RSS {rss:6.0f} MiB"
              f" (import paddle + mnist.data: {imp:.2f} s)")
    t, rss, _ = run(args.datafile, "train,valid,eval")
    print(f"cached load, all three splits:               {t:6.3f} s, peak RSS {rss:6.0f} MiB")


if __name__ == "__main__":
    main()
