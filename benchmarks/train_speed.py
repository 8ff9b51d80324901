"""Training throughput, side by side: the lesson's loop, this project's step, PyTorch eager.

    python benchmarks/train_speed.py [--repeats 3] [--batches 50]

Each contender runs in its own fresh process (so thread settings and libraries do not leak from
one to another), in turn, ``--repeats`` times; the figure is the median images/s over the timed
batches (after a warm-up), and the peak RSS of its process. Same network, batch 100, SGD lr 0.01,
cross-entropy, the first 10000 real training images:

    lesson      the lesson's code (benchmarks/lesson.py): a per-sample Dataset over JSON-style
                lists of floats, a paddle.io.DataLoader, the layers in the lesson's order,
                Paddle's default threads, MKL left to its own code path (as the lesson runs)
    lesson-mkl  the same with MKL_DEBUG_CPU_TYPE=5, which this project sets on AMD processors
                (mnist/cpu.py); only where that applies, to show how much of the gain it is
    project     this project's step as train.py runs it: batches sliced from numpy arrays,
                mnist.model.MNIST with its oneDNN block operator (mnist/conv_block.py), all
                cores, the project's CPU settings
    project-paddle  the same step with Paddle's own convolution ops (train.py --conv paddle)
    project-2p  the project's step data-parallel on 2 processes (paddle.distributed.launch,
                1 thread each, 50 images of every batch of 100 on each)
    torch       the same network in PyTorch eager, if torch is importable
                (``pip install torch==2.13.0`` gives the CPU build on these machines)
    torch-2p    the same in PyTorch on 2 processes, as its users run it: torchrun, gloo,
                DistributedDataParallel, 50 images of every batch on each
    fast        the step of ``train.py --preset fast``: batch 128, Nesterov momentum, the
                one-cycle schedule, label smoothing 0.05, the project's operator and settings
    torch-fast  the same recipe's step in PyTorch eager
    gemm-peak   not a contender: this machine's float32 matrix-product rate, a 4096 x 4096
                product through Paddle's MKL on all cores (the best of several), in GFLOP/s

Each step's rate is also printed in GFLOP/s (the network's multiply-adds forward and backward,
counted from its shapes, ``flops_per_image``) and as a share of the GEMM peak measured in the
same run: that share, and the ratios, are what to compare between runs.

Every contender starts from the environment this script was started with (never one that
importing Paddle has changed), and reports the threads it ran with. With ``--end-to-end`` it
also times whole commands: ``python train.py --epochs 1`` against the same job in PyTorch
(``benchmarks/torch_mnist.py``: one epoch of the 50000 training images, batch 100, SGD lr 0.01,
then the valid and eval accuracy).

With ``--end-to-end`` it also gives each command's peak RSS (from wait4). It prints the ratios
project/lesson and project/torch. This is a measurement, not a test: the
machine is shared and noisy, so compare figures from one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The environment the user started this with: every contender runs in it. (Importing Paddle
# sets OMP_NUM_THREADS=1 in os.environ, and a child started after that inherits it.)
START_ENV = dict(os.environ)

REPO = Path(__file__).resolve().parent.parent

from time_to_accuracy import timed as timed_command  # noqa: E402  (wall, accuracy, peak RSS)

WARMUP = 5
THREADS_SET = None  # the threads a Paddle worker set, for the report
CONV_USED = None  # and the convolution it ran


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(step, batches: int, batch_size: int = 100) -> float:
    for i in range(WARMUP):
        step(i)
    start = time.perf_counter()
    for i in range(batches):
        step(WARMUP + i)
    return batches * batch_size / (time.perf_counter() - start)


def flops_per_image() -> float:
    """Floating-point operations of one training image, forward and backward (2 per
    multiply-add): each convolution and the linear layer forward, their weight gradients, and
    the input gradients of all but the first convolution (the images need none). Pooling,
    ReLU, bias and the loss are left out (a few percent)."""
    conv1 = 28 * 28 * 20 * (1 * 5 * 5)   # output pixels x channels x inputs per output
    conv2 = 14 * 14 * 20 * (20 * 5 * 5)
    fc = 980 * 10
    forward = conv1 + conv2 + fc
    weights = conv1 + conv2 + fc
    inputs = conv2 + fc
    return 2.0 * (forward + weights + inputs)



# ----------------------------------------------------------------------------------------------
# Workers (each runs in its own process)
# ----------------------------------------------------------------------------------------------

def worker_lesson(images, labels, batches):
    from lesson import lesson_training  # benchmarks/lesson.py: the lesson's code

    _model, loader, train_step = lesson_training(images, labels)
    batches_iter = iter(())

    def step(_i):
        nonlocal batches_iter
        try:
            x, y = next(batches_iter)
        except StopIteration:
            batches_iter = iter(loader)
            x, y = next(batches_iter)
        float(train_step(x, y))

    return timed(step, batches)


def worker_project(images, labels, batches, conv="onednn"):
    import paddle

    from mnist.cluster import Cluster
    from mnist.cpu import keep_freed_memory, set_threads
    from mnist.losses import LOSSES
    from mnist.model import MNIST
    from mnist.training import train_step

    global THREADS_SET, CONV_USED
    cluster = Cluster(100)  # the lesson's global batch, below
    THREADS_SET = max(1, (os.cpu_count() or 1) // cluster.world)
    set_threads(THREADS_SET)
    keep_freed_memory()  # the project's CPU settings, as train.py makes them
    net = MNIST(conv=conv)
    CONV_USED = conv if conv == "paddle" or net.fast_block else "paddle (oneDNN unavailable)"
    model = paddle.DataParallel(net) if cluster.world > 1 else net
    opt = paddle.optimizer.SGD(learning_rate=0.01, parameters=net.parameters())
    loss_fn = LOSSES["cross_entropy"].loss
    steps = len(labels) // 100

    def step(i):  # what mnist/training.py does for one batch: its own train_step
        lo = (i % steps) * 100
        share = slice(lo + cluster.rank, lo + 100, cluster.world)
        loss = train_step(model, opt, None, loss_fn, images[share], labels[share])
        cluster.sum([float(loss), 0.0])

    rate = timed(step, batches)
    return rate if cluster.main else None


def worker_fast(images, labels, batches):
    """The fast preset's step, as mnist/training.py runs it: its optimizer, schedule and loss,
    with the settings train.py resolves for --preset fast."""
    from mnist.cpu import keep_freed_memory, set_threads
    from mnist.flags import parse_args
    from mnist.losses import LOSSES
    from mnist.model import MNIST
    from mnist.optim import make_optimizer
    from mnist.training import train_step

    global THREADS_SET, CONV_USED
    THREADS_SET = os.cpu_count() or 1
    set_threads(THREADS_SET)
    keep_freed_memory()
    cfg = vars(parse_args(["--preset", "fast"]))
    net = MNIST(conv="onednn")
    CONV_USED = "onednn" if net.fast_block else "paddle (oneDNN unavailable)"
    bs = cfg["batch_size"]
    steps = len(labels) // bs
    optimizer, scheduler = make_optimizer(cfg, net, steps)
    loss_fn = LOSSES["cross_entropy"].training_loss(cfg["label_smoothing"])

    def step(i):
        lo = (i % steps) * bs
        loss = train_step(net, optimizer, scheduler, loss_fn, images[lo:lo + bs],
                          labels[lo:lo + bs])
        float(loss)

    return timed(step, batches, bs)


def worker_torchfast(images, labels, batches):
    """The same recipe's step in PyTorch eager (benchmarks/torch_mnist.py's --recipe fast)."""
    import torch
    import torch.nn.functional as F

    from torch_mnist import RECIPES, Net, make_optimizer

    torch.manual_seed(0)
    model = Net()
    recipe = RECIPES["fast"]
    bs = recipe["batch_size"]
    steps = len(labels) // bs
    opt, schedule = make_optimizer(model, recipe, total_steps=batches + WARMUP + 1)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)

    def step(i):
        lo = (i % steps) * bs
        loss = F.cross_entropy(model(x_all[lo:lo + bs]), y_all[lo:lo + bs],
                               label_smoothing=recipe["label_smoothing"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        loss.item()

    return timed(step, batches, bs)


def worker_peak(_images, _labels, _batches):
    """GFLOP/s of a large float32 matrix product through Paddle's MKL, all cores: the best of
    several 4096 x 4096 products (reported in the images_per_s slot)."""
    import paddle

    from mnist.cpu import set_threads

    global THREADS_SET
    THREADS_SET = os.cpu_count() or 1
    set_threads(THREADS_SET)
    n = 4096
    a, b = paddle.randn([n, n]), paddle.randn([n, n])
    float(paddle.matmul(a, b)[0, 0])
    best = 0.0
    for _ in range(6):
        start = time.perf_counter()
        float(paddle.matmul(a, b)[0, 0])
        best = max(best, 2 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return best


def _torch_model_and_step(images, labels, rank=0, world=1):
    """The same network in PyTorch, SGD lr 0.01, and one training step on this process's share
    of a batch of 100 (DDP-wrapped when world > 1)."""
    import torch
    import torch.nn.functional as F

    from torch_mnist import Net  # benchmarks/torch_mnist.py: the network in PyTorch

    torch.manual_seed(0)
    model = Net()
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)
    steps = len(labels) // 100

    def step(i):
        lo = (i % steps) * 100
        share = slice(lo + rank, lo + 100, world)
        loss = F.cross_entropy(model(x_all[share]), y_all[share])
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()

    return model, opt, step


def worker_torch(images, labels, batches):
    _model, _opt, step = _torch_model_and_step(images, labels)
    return timed(step, batches)


def worker_torch_ddp(images, labels, batches):
    """PyTorch data parallel on the processes torchrun started (gloo): each takes every N-th
    image of a batch of 100, DistributedDataParallel averages the gradients."""
    import torch.distributed as tdist

    tdist.init_process_group("gloo")
    rank, world = tdist.get_rank(), tdist.get_world_size()
    _model, _opt, step = _torch_model_and_step(images, labels, rank, world)
    rate = timed(step, batches)
    tdist.barrier()  # both ranks done before the group goes (gloo aborted at exit without it)
    tdist.destroy_process_group()
    return rate if rank == 0 else None


WORKERS = {"lesson": worker_lesson, "project": worker_project, "torch": worker_torch,
           "torchddp": worker_torch_ddp, "fast": worker_fast, "torchfast": worker_torchfast,
           "peak": worker_peak}
ENV = {"lesson": {"MKL_DEBUG_CPU_TYPE": ""}, "lesson-mkl": {"MKL_DEBUG_CPU_TYPE": "5"}}


def run_worker(name: str, data: Path, batches: int, conv: str) -> None:
    import numpy as np

    with np.load(data) as d:
        images, labels = d["images"], d["labels"]
    extra = {"conv": conv} if name == "project" else {}
    rate = WORKERS[name](images, labels, batches, **extra)
    if rate is not None:
        print(json.dumps({"images_per_s": rate, "peak_rss_mib": peak_rss_mib(),
                          "threads": threads_in_use(name)}), flush=True)


def threads_in_use(name: str) -> str:
    """The worker's thread settings as it ran: the library's own count and OMP_NUM_THREADS."""
    omp = os.environ.get("OMP_NUM_THREADS", "unset")
    if name.startswith("torch"):
        import torch

        return f"torch {torch.get_num_threads()}, OMP_NUM_THREADS {omp}"
    count = f"set_num_threads({THREADS_SET})" if THREADS_SET else "its default"
    if name in ("project", "fast"):
        count += f", conv {CONV_USED}"
    return f"paddle {count}, OMP_NUM_THREADS {omp}"


# ----------------------------------------------------------------------------------------------
# The driver
# ----------------------------------------------------------------------------------------------

def write_batches(datafile: str, out: Path) -> None:
    """The workers' data: the first 10000 real training images and their labels, in ``out``
    (an .npz), from the lesson's data file (built if missing)."""
    import numpy as np

    from mnist.data import MnistDataset, build_datafile

    build_datafile(datafile)
    train = MnistDataset("train", datafile)
    np.savez(out, images=train.images[:10000], labels=train.labels[:10000])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(contender: str, data: Path, batches: int) -> dict | None:
    worker = {"torch-2p": "torchddp", "torch-fast": "torchfast",
              "gemm-peak": "peak"}.get(contender, contender.split("-")[0])
    me = [str(Path(__file__).resolve()), "--worker", worker,
          "--data", str(data), "--batches", str(batches)]
    if contender == "project-paddle":
        me += ["--conv", "paddle"]
    env = {**START_ENV, "PYTHONPATH": str(REPO), **ENV.get(contender, {})}
    if contender == "torch-2p":  # torchrun, as PyTorch's users launch it
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_port", str(free_port()), *me]
        result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    elif contender.endswith("-2p"):
        with tempfile.TemporaryDirectory() as logs:
            cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                   "--log_dir", logs, *me]
            result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    else:
        result = subprocess.run([sys.executable, *me], cwd=REPO, capture_output=True, text=True,
                                env=env)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("{\"images_per_s\"")]
    if result.returncode != 0 or not lines:
        print(f"  {contender}: failed ({result.returncode}): {result.stderr.strip()[-300:]}",
              file=sys.stderr)
        return None
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=50, help="timed batches of 100 per run")
    parser.add_argument("--datafile", default="work/mnist.json.gz")
    parser.add_argument("--end-to-end", action="store_true",
                        help="also time python train.py --epochs 1 against PyTorch's same job")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--conv", default="onednn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, Path(args.data), args.batches, args.conv)
        return 0

    import importlib.util

    from mnist.cpu import use_fast_mkl_path
    from mnist.flags import PRESETS

    contenders = ["gemm-peak", "lesson", "project-paddle", "project", "project-2p", "fast"]
    if use_fast_mkl_path({}):  # the project switches MKL's code path on this machine
        contenders.insert(1, "lesson-mkl")
    if importlib.util.find_spec("torch"):
        from torch_mnist import RECIPES  # imports torch

        keys = ("batch_size", "lr", "label_smoothing", "epochs", "validate")
        assert {k: RECIPES["fast"][k] for k in keys} == {k: PRESETS["fast"][k] for k in keys}, \
            "benchmarks/torch_mnist.py's fast recipe must follow the preset"
        contenders += ["torch", "torch-2p", "torch-fast"]
    else:
        print("torch is not installed: skipping PyTorch (pip install torch==2.13.0)")
    results: dict[str, list[dict]] = {c: [] for c in contenders}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "batches.npz"
        write_batches(args.datafile, data)
        for r in range(args.repeats):
            for c in contenders:
                m = measure(c, data, args.batches)
                if m:
                    results[c].append(m)
                    unit = "GFLOP/s " if c == "gemm-peak" else "images/s"
                    print(f"  repeat {r + 1}: {c:<14} {m['images_per_s']:7.0f} {unit}   "
                          f"threads: {m['threads']}", flush=True)

    median = {c: statistics.median(m["images_per_s"] for m in ms)
              for c, ms in results.items() if ms}
    peak = median.pop("gemm-peak", None)
    flops = flops_per_image()
    from mnist.cpu import cpu_flags

    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "?") if os.path.exists("/proc/cpuinfo") else "?"
    isa = "AVX-512" if "avx512f" in cpu_flags()[1] else "AVX2" if "avx2" in cpu_flags()[1] else "?"
    print(f"\n{model}, {isa}")
    print(f"{'contender':<15}{'images/s':>10}{'GFLOP/s':>9}{'of peak':>9}{'peak RSS':>11}   "
          f"(median of {args.repeats}; batch 100, fast: 128; {os.cpu_count()} cores)")
    for c, ms in results.items():
        if ms and c in median:
            rss = max(m["peak_rss_mib"] for m in ms)
            rate = median[c] * flops / 1e9
            share = f"{100 * rate / peak:7.0f}%" if peak else "      -"
            print(f"{c:<15}{median[c]:>10.0f}{rate:>9.0f}{share:>9}{rss:>8.0f} MiB   "
                  f"threads: {ms[-1]['threads']}")
    if peak:
        print(f"GEMM peak (4096 x 4096 float32 through MKL, {os.cpu_count()} threads): "
              f"{peak:.0f} GFLOP/s; the network: {flops / 1e6:.1f} MFLOP per training image, "
              f"so the peak is {peak * 1e9 / flops:.0f} images/s")
    if "lesson" in median:
        for c in ("lesson-mkl", "project-paddle", "project", "project-2p"):
            if c in median:
                print(f"{c} / lesson: {median[c] / median['lesson']:.2f}x")
    if "torch" in median and "project" in median:
        print(f"project / torch (1 process each): {median['project'] / median['torch']:.2f}x")
    if "torch-2p" in median and "project-2p" in median:
        print(f"project-2p / torch-2p (2 processes each): "
              f"{median['project-2p'] / median['torch-2p']:.2f}x")
    if "project" in median and "project-paddle" in median:
        print(f"oneDNN block / Paddle's ops: {median['project'] / median['project-paddle']:.2f}x")
    if "project" in median and "project-2p" in median:
        print(f"2 processes / 1 process: {median['project-2p'] / median['project']:.2f}x")
    if "fast" in median and "torch-fast" in median:
        print(f"fast / torch-fast (the fast preset's step, 1 process each): "
              f"{median['fast'] / median['torch-fast']:.2f}x")
    if args.end_to_end:
        end_to_end(args.repeats, args.datafile)
    return 0


def end_to_end(repeats: int, datafile: str) -> None:
    """Whole commands, start to finish, in the user's environment: one epoch each."""
    env = {**START_ENV, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "python train.py --epochs 1": [sys.executable, "train.py", "--epochs", "1",
                                           "--datafile", datafile, "--seed", "1", "--run-dir",
                                           f"{tmp}/run", "--save", f"{tmp}/m.pdparams"],
            "PyTorch, the same job": [sys.executable, "benchmarks/torch_mnist.py", "--epochs",
                                      "1", "--datafile", datafile],
        }
        runs: dict[str, list[dict]] = {k: [] for k in commands}
        for _ in range(repeats):
            for name, cmd in commands.items():
                shutil.rmtree(f"{tmp}/run", ignore_errors=True)
                result = timed_command(cmd, env)
                if result:
                    runs[name].append(result)
    print(f"\nend to end, one epoch, whole command (median of {repeats}; peak RSS, the most):")
    for name, rs in runs.items():
        if rs:
            print(f"  {name:<28} {statistics.median(r['wall'] for r in rs):6.1f} s   eval "
                  f"{100 * rs[-1]['accuracy']:.2f}%   peak RSS "
                  f"{max(r['rss_mib'] for r in rs):.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
