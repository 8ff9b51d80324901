"""Where the fast preset's training step spends its time, primitive by primitive, and how close
to this machine's GEMM peak the step could get.

    python benchmarks/step_profile.py [--batches 30]

Runs the fast preset's step (``train_speed.py``'s ``fast`` worker: batch 128, the project's
oneDNN operator, the preset's optimizer and loss, the first 10000 real training images) in its
own process with ``ONEDNN_VERBOSE=profile_exec``, which makes oneDNN print every primitive it
executes with its time. It prints, per step (each primitive's total over the steps after the
warm-up, divided by their number), each primitive's time and its share of the step. For the convolutions it
also prints their rate in GFLOP/s (2 per multiply-add, counted from the shapes oneDNN prints) and
as a share of the GEMM peak, measured in another process of the same run
(``train_speed.py``'s ``gemm-peak``). The step itself is timed in a third process, without the
profiler.

Last it prints the ceiling: the time the convolutions take at the rates they reach here, and
the share of the GEMM peak the whole step would reach if everything else (pooling, ReLU,
reorders between layouts, the linear layer, the loss, the update, Python) took no time at all.
The machine is shared and noisy: compare the shares, not the milliseconds.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

START_ENV = dict(os.environ)  # before anything imports Paddle (which sets OMP_NUM_THREADS)
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MARK = "step-profile: timed batches start"

import train_speed  # noqa: E402  (its workers and driver; it keeps the same starting environment)


def conv_flop(desc: str) -> float:
    """Floating-point operations of a convolution from oneDNN's shape string, e.g.
    ``mb128_ic20oc20_ih14oh14kh5sh1dh0ph2_iw14ow14kw5sw1dw0pw2`` (2 per multiply-add; every
    pass, forward, backward data and backward weights, does the same number)."""
    size = {k: int(v) for k, v in re.findall(r"([a-z]+?)(\d+)", desc)}
    return 2.0 * size["mb"] * size["oc"] * size["oh"] * size["ow"] * size["ic"] * size["kh"] \
        * size["kw"]


def profile(lines: list[str], steps: int) -> list[tuple[str, float, float | None]]:
    """(primitive, ms per step, GFLOP/s or None) from oneDNN's profile_exec lines."""
    total, flop = defaultdict(float), {}
    for line in lines:
        fields = line.strip().split(",")
        if "exec" not in fields:
            continue
        at = fields.index("exec")
        kind, prop, desc = fields[at + 2], fields[at + 4], fields[-2]
        name = f"{kind} {prop} {desc}"
        total[name] += float(fields[-1])
        if kind == "convolution":
            flop[name] = conv_flop(desc)
    rows = []
    for name, ms in sorted(total.items(), key=lambda kv: -kv[1]):
        per_step = ms / steps
        rate = flop[name] / (per_step / 1e3) / 1e9 if name in flop else None
        rows.append((name, per_step, rate))
    return rows


def traced(data: Path, batches: int) -> list[str]:
    """oneDNN's profile_exec lines of the fast preset's step after the warm-up, from a process
    of its own started with the user's environment."""
    env = {**START_ENV, "PYTHONPATH": str(REPO), "ONEDNN_VERBOSE": "profile_exec"}
    cmd = [sys.executable, str(HERE / "step_profile.py"), "--worker", "--data", str(data),
           "--batches", str(batches)]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"step_profile.py: the profiled step failed: {result.stderr.strip()[-300:]}")
    lines = result.stdout.splitlines()
    return lines[lines.index(MARK) + 1:]


def worker(data: Path, batches: int) -> None:
    """In the child: train_speed's fast worker, with a mark before its timed batches."""
    import numpy as np

    with np.load(data) as d:
        images, labels = d["images"], d["labels"]
    original = train_speed.timed

    def timed(step, count, batch_size=100):  # warm up as train_speed does, then mark
        for i in range(train_speed.WARMUP):
            step(i)
        print(MARK, flush=True)
        return original(lambda i: step(i + train_speed.WARMUP), count, batch_size)

    train_speed.timed = timed
    train_speed.worker_fast(images, labels, batches)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--datafile", default="work/mnist.json.gz")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(Path(args.data), args.batches)
        return 0

    from mnist.flags import PRESETS

    batch = PRESETS["fast"]["batch_size"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "batches.npz"
        train_speed.write_batches(args.datafile, data)
        measured = [train_speed.measure(c, data, args.batches) for c in ("gemm-peak", "fast")]
        if None in measured:
            sys.exit("step_profile.py: a worker of train_speed.py failed (above)")
        peak, rate = (m["images_per_s"] for m in measured)  # the peak's slot holds GFLOP/s
        timed_lines = traced(data, args.batches)
    # the steps after the mark (train_speed.timed's own warm-up included): one forward pass
    # of the first convolution each
    steps = sum(1 for line in timed_lines if ",convolution," in line and ",exec," in line
                and "forward_training" in line and "_ic1oc" in line)
    rows = profile(timed_lines, steps)
    step_ms = 1e3 * batch / rate
    traced_ms = sum(ms for _n, ms, _r in rows)
    flop = train_speed.flops_per_image() * batch
    print(f"the fast preset's step, batch {batch}: {step_ms:.2f} ms without the profiler "
          f"({rate:.0f} images/s, {flop / step_ms / 1e6:.0f} GFLOP/s, "
          f"{100 * flop / step_ms / 1e6 / peak:.0f}% of the GEMM peak, {peak:.0f} GFLOP/s)")
    print(f"oneDNN's primitives, {steps} profiled steps: {traced_ms:.2f} ms a step in all\n")
    print(f"{'ms/step':>8} {'share':>6} {'GFLOP/s':>8} {'of peak':>8}  primitive")
    for name, ms, r in rows:
        extra = f"{r:8.0f} {100 * r / peak:7.0f}%" if r else f"{'':8} {'':8}"
        print(f"{ms:8.3f} {100 * ms / traced_ms:5.1f}% {extra}  {name}")
    conv_ms = sum(ms for n, ms, r in rows if r)
    print(f"\nthe convolutions alone take {conv_ms:.2f} ms a step at these rates: with all the "
          f"rest free the step would reach {100 * flop / conv_ms / 1e6 / peak:.0f}% of the "
          f"GEMM peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
