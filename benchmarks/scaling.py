"""Whole training runs on one machine: one process, two processes, and two nodes on loopback.

    python benchmarks/scaling.py [--epochs 10] [--repeats 1]

Times each command from its start to its end, as a user types it, in its own process started
with the environment this script was started with:

    1 process      python train.py
    2 processes    python -m paddle.distributed.launch --nproc_per_node 2 train.py
    2 nodes        two launchers meeting at a master address (--master 127.0.0.1:PORT --nnodes 2
                   --rank 0|1 --nproc_per_node 1), as on two machines; here both on this one

Each run writes its own run directory under a temporary folder and reports its eval accuracy.
Repeats are interleaved; the figure is the median wall time. On one 2-core machine two nodes
cannot be faster than one process (they share the same cores and talk over loopback): this
prints what the tested multi-machine path costs, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_ENV = dict(os.environ)  # every command runs in the environment the user had
REPO = Path(__file__).resolve().parent.parent
LAUNCH = [sys.executable, "-m", "paddle.distributed.launch"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def commands(kind: str, out: Path, train: list[str]) -> list[list[str]]:
    """The command lines (one per node) of one run of ``kind``."""
    if kind == "1 process":
        return [[sys.executable, str(REPO / "train.py"), *train]]
    if kind == "2 processes":
        return [[*LAUNCH, "--nproc_per_node", "2", "--log_dir", str(out / "log"),
                 str(REPO / "train.py"), *train]]
    master = f"127.0.0.1:{free_port()}"
    return [[*LAUNCH, "--master", master, "--nnodes", "2", "--rank", str(rank),
             "--nproc_per_node", "1", "--log_dir", str(out / f"log{rank}"),
             str(REPO / "train.py"), *train] for rank in (0, 1)]


def time_run(kind: str, epochs: int, seed: int, datafile: str) -> tuple[float, float]:
    """(wall seconds, eval accuracy) of one run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        train = ["--epochs", str(epochs), "--seed", str(seed), "--datafile", datafile,
                 "--run-dir", str(out / "run"), "--save", str(out / "p.pdparams")]
        start = time.perf_counter()
        procs = [subprocess.Popen(cmd, cwd=REPO, env=START_ENV, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for cmd in commands(kind, out, train)]
        codes = [p.wait() for p in procs]
        wall = time.perf_counter() - start
        if any(codes):
            sys.exit(f"{kind}: exit codes {codes}")
        summary = json.loads((out / "run" / "summary.json").read_text())
        return wall, summary["eval_accuracy"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--datafile", default=str(REPO / "work" / "mnist.json.gz"))
    args = p.parse_args()
    kinds = ["1 process", "2 processes", "2 nodes"]
    results = {k: [] for k in kinds}
    for _ in range(args.repeats):
        for kind in kinds:
            results[kind].append(time_run(kind, args.epochs, args.seed, args.datafile))
            print(f"  {kind}: {results[kind][-1][0]:.1f} s", file=sys.stderr, flush=True)
    print(f"python train.py --epochs {args.epochs} --seed {args.seed}, whole command, "
          f"median of {args.repeats}:")
    base = statistics.median(w for w, _ in results["1 process"])
    for kind in kinds:
        wall = statistics.median(w for w, _ in results[kind])
        acc = results[kind][-1][1]
        print(f"{kind:<12} {wall:7.1f} s  {base / wall:5.2f}x of 1 process  eval {acc:.2%}")


if __name__ == "__main__":
    main()
