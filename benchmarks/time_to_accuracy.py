"""Time to accuracy, whole commands side by side: ``train.py --preset fast`` and the same recipe
in plain PyTorch.

    python benchmarks/time_to_accuracy.py [--seeds 1 2 3] [--datafile work/mnist.json.gz]

For each seed, in turn (interleaved, so that the machine's slow and quick minutes fall on both):

    paddle-mnist   python train.py --preset fast --seed S  (a fresh run directory each time)
    pytorch        python benchmarks/torch_mnist.py --recipe fast --seed S  (the same network,
                   batch, optimizer, schedule, label smoothing and 1.5 epochs; torch's defaults
                   for threads, as its users run it), if torch is installed

Each is its own fresh process, started with the environment this script was started with
(importing Paddle sets OMP_NUM_THREADS=1, which a child would otherwise inherit). It prints the
wall time from the command's start to its end (Python's start-up, imports, data, training,
evaluation and, for train.py, its report and files), the eval and final valid accuracy the
command printed, and the process's peak RSS (from wait4). The data file and the oneDNN operator are built
before the first timed run, as they are after a user's first run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_ENV = dict(os.environ)  # the user's environment, before anything here changes it
REPO = Path(__file__).resolve().parent.parent
EVAL = re.compile(r"eval accuracy ([0-9.]+)")
VALID = re.compile(r"valid accuracy ([0-9.]+)")


def timed(cmd: list[str], env: dict | None = None) -> dict | None:
    """Wall time, eval accuracy and peak RSS of one command in its own process (started with
    ``env``, by default the environment this script was started with)."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env or START_ENV, stdout=out,
                                stderr=subprocess.STDOUT, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    found = EVAL.findall(text)
    if proc.returncode or not found:
        print(f"  failed ({proc.returncode}): {' '.join(cmd)}\n{text[-400:]}", file=sys.stderr)
        return None
    valid = VALID.findall(text)
    return {"wall": wall, "accuracy": float(found[-1]), "rss_mib": usage.ru_maxrss / 1024,
            "valid": float(valid[-1]) if valid else float("nan")}


def warm_up(datafile: str, tmp: str, *flags: str) -> None:
    """One short untimed train.py: the data file, its cache and the operator made, as after a
    user's first run (``flags``: more of train.py's, e.g. the device)."""
    subprocess.run([sys.executable, "train.py", *flags, "--epochs", "1", "--limit", "1000",
                    "--datafile", datafile, "--run-dir", f"{tmp}/warm",
                    "--save", f"{tmp}/warm.pdparams"], cwd=REPO, env=START_ENV,
                   capture_output=True, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    args = parser.parse_args()

    import importlib.util

    with tempfile.TemporaryDirectory() as tmp:
        def ours(seed: int) -> list[str]:
            return [sys.executable, "train.py", "--preset", "fast", "--seed", str(seed),
                    "--datafile", args.datafile, "--run-dir", f"{tmp}/run-{seed}-{time.time_ns()}",
                    "--save", f"{tmp}/fast.pdparams"]

        contenders = {"paddle-mnist": ours}
        if importlib.util.find_spec("torch"):
            contenders["pytorch"] = lambda seed: [
                sys.executable, "benchmarks/torch_mnist.py", "--recipe", "fast", "--seed",
                str(seed), "--datafile", args.datafile, "--save", f"{tmp}/fast.pt"]
        else:
            print("torch is not installed: PyTorch left out (pip install torch==2.13.0)")
        warm_up(args.datafile, tmp)
        results: dict[str, list[dict]] = {name: [] for name in contenders}
        for seed in args.seeds:
            for name, command in contenders.items():
                r = timed(command(seed))
                if r:
                    results[name].append(r)
                    print(f"  seed {seed}: {name:<13} {r['wall']:6.1f} s   eval "
                          f"{100 * r['accuracy']:.2f}%   valid {100 * r['valid']:.2f}%   "
                          f"peak RSS {r['rss_mib']:.0f} MiB", flush=True)
    print(f"\n{'contender':<14}{'wall (median)':>15}{'eval accuracy (each seed)':>34}"
          f"{'peak RSS':>11}   ({os.cpu_count()} cores)")
    for name, rs in results.items():
        if rs:
            accs = " ".join(f"{100 * r['accuracy']:.2f}" for r in rs)
            print(f"{name:<14}{statistics.median(r['wall'] for r in rs):>13.1f} s"
                  f"{accs:>34}{max(r['rss_mib'] for r in rs):>7.0f} MiB")
    if all(results.values()) and len(results) == 2:
        ratio = (statistics.median(r["wall"] for r in results["pytorch"])
                 / statistics.median(r["wall"] for r in results["paddle-mnist"]))
        print(f"pytorch / paddle-mnist, wall time: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
