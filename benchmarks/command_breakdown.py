"""Where the seconds of one ``python train.py --preset fast`` go, phase by phase.

    python benchmarks/command_breakdown.py [--repeats 3] [--datafile work/mnist.json.gz]

Each repeat is a fresh process started with the environment this script was started with, as a
user starts train.py. It runs train.py's own ``main`` with the same flags, after wrapping a few
of mnist.training's functions in timers (a handful of calls each, nothing inside the steps), so
the command does what train.py does and its wall time splits into:

    interpreter and imports   process start to mnist.training imported (Python, Paddle, numpy)
    data                      the training, valid and eval splits read (load_data, MnistDataset)
    building the network      the network (with the oneDNN operator's load and check) and its
                              optimizer
    setup, the rest           flags, the run directory and its lock, threads, the log
    the steps                 every training step, with its loss-log row (run_epoch)
    scoring                   the valid and eval splits scored (evaluate)
    the report                report.png drawn and written (write_report)
    files                     config and logs begun, checkpoint, summary, model, --save
    the rest of the run       what is left between main's start and its end
    exit                      main's return to the process's end (train.py's os._exit)

Prints the median of each phase over the repeats and its share of the median wall time. The
data file and the operator are built before the first repeat, as after a user's first run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from time_to_accuracy import REPO, START_ENV, warm_up

PHASES = ("interpreter and imports", "data", "building the network", "setup, the rest",
          "the steps", "scoring", "the report", "files", "the rest of the run", "exit")

# The child: train.py's main with timers around mnist.training's phases. sys.argv[1] is the
# JSON file it writes its clock readings to; the rest are train.py's flags.
CHILD = r"""
import json, os, sys, time
clock = {"started": time.time()}
from mnist import rundir, training
clock["imported"] = time.time()
spent = {}

def timer(owner, name, phase):
    inner = getattr(owner, name)
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[phase] = spent.get(phase, 0.0) + time.perf_counter() - start
    setattr(owner, name, timed)

for owner, name, phase in [
        (training, "setup", "setup"), (training, "load_data", "data"),
        (training, "MnistDataset", "eval data"), (training, "MNIST", "building the network"),
        (training, "make_optimizer", "building the network"), (training, "run_epoch", "the steps"),
        (training, "evaluate", "scoring"), (training, "write_report", "the report"),
        (training, "save_params", "files"), (rundir.RunDir, "start_logs", "files"),
        (rundir.RunDir, "write_checkpoint", "files"), (rundir.RunDir, "write_summary", "files"),
        (rundir.RunDir, "write_model", "files")]:
    timer(owner, name, phase)
clock["main"] = time.time()
code = training.main(sys.argv[2:])
clock["returned"] = time.time()
with open(sys.argv[1], "w") as f:
    json.dump({"clock": clock, "spent": spent}, f)
sys.stdout.flush()
os._exit(code)
"""


def one_run(flags: list[str], tmp: str) -> dict[str, float]:
    """The phases of one command, in seconds."""
    readings = f"{tmp}/clock-{time.time_ns()}.json"
    spawned = time.time()
    done = subprocess.run([sys.executable, "-c", CHILD, readings, *flags], cwd=REPO,
                          env=START_ENV, capture_output=True, text=True)
    ended = time.time()
    if done.returncode:
        sys.exit(f"train.py failed ({done.returncode}):\n{done.stderr[-800:]}")
    with open(readings) as f:
        r = json.load(f)
    clock, spent = r["clock"], r["spent"]
    phases = {"interpreter and imports": clock["imported"] - spawned,
              "data": spent.get("data", 0.0) + spent.get("eval data", 0.0),
              "building the network": spent.get("building the network", 0.0)}
    # load_data and the network are built inside setup; the eval split is read at the end
    phases["setup, the rest"] = (spent["setup"] - spent.get("data", 0.0)
                                 - phases["building the network"])
    for phase in ("the steps", "scoring", "the report", "files"):
        phases[phase] = spent.get(phase, 0.0)
    phases["the rest of the run"] = (clock["returned"] - clock["main"]) - sum(
        v for k, v in phases.items() if k != "interpreter and imports")
    phases["exit"] = ended - clock["returned"]
    phases["wall"] = ended - spawned
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(args.datafile, tmp)
        runs = []
        for r in range(args.repeats):
            flags = ["--preset", "fast", "--seed", str(args.seed), "--datafile", args.datafile,
                     "--run-dir", f"{tmp}/run-{r}", "--save", f"{tmp}/fast.pdparams"]
            runs.append(one_run(flags, tmp))
            print(f"  repeat {r + 1}: {runs[-1]['wall']:.2f} s", flush=True)
    wall = statistics.median(r["wall"] for r in runs)
    print(f"\n{'phase':<26}{'seconds (median)':>18}{'share':>8}")
    for phase in PHASES:
        seconds = statistics.median(r[phase] for r in runs)
        print(f"{phase:<26}{seconds:>18.3f}{100 * seconds / wall:>7.0f}%")
    print(f"{'the whole command':<26}{wall:>18.2f}{100:>7.0f}%   ({args.repeats} repeats)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
