"""``python train.py``: train the lesson's network on MNIST, with logs, checkpoints and metrics.

The defaults are the lesson's run: cross-entropy, SGD lr 0.01, batch 100 (shuffled, last partial
batch dropped), 10 epochs, a line ``epoch: E, batch: B, loss is: X`` every 200 batches, and the
parameters saved to ``work/mnist.pdparams``. ``--loss mse`` trains the lesson's "before" model.

Every run writes a run directory (``--run-dir``, default ``work/runs/<loss>-<time>``):

    config.json     the settings used (``--resume`` reads them back)
    loss_log.csv    epoch,batch,loss for every batch
    metrics.jsonl   one JSON object per epoch: train loss, valid loss and accuracy, seconds
    summary.json    the final figures: eval accuracy, best valid accuracy, wall time
    report.png      loss and accuracy curves, confusion matrix, per-digit accuracy, and the
                    eval digits it gets most confidently wrong (mnist/report.py)
    checkpoint.pd   model + optimizer + position, after every epoch and on Ctrl-C
    model.pdparams  the trained parameters (also copied to ``--save``)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import hashlib
import json
import math
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import paddle
import paddle.distributed as dist

from mnist.augment import distort, shift_images
from mnist import cli
from mnist.cli import EXIT_FAILED, CliError, Parser, explicit_flags
from mnist.cpu import keep_freed_memory, set_threads
from mnist.data import DEFAULT_DATAFILE, MnistDataset, atomic_write, build_datafile
from mnist.losses import LOSSES, accuracy
from mnist.model import CONVS, MNIST
from mnist.params import UnsafeFileError, load_params, save_params
from mnist.report import write_report

CHECKPOINT = "checkpoint.pd"
# Settings that define a run; --resume takes them from the run's config.json.
RUN_SETTINGS = ("preset", "loss", "epochs", "batch_size", "lr", "optimizer", "momentum",
                "weight_decay", "schedule", "augment", "distort", "seed", "limit", "log_interval",
                "datafile")
# --preset NAME sets these defaults; a flag given explicitly overrides its preset's value.
PRESETS = {
    "lesson": {},  # the lesson's run: the parser's own defaults
    "robust": {    # for real pictures: the same network trained on distorted digits
        "optimizer": "momentum", "lr": 0.03, "schedule": "cosine", "weight_decay": 0.0005,
        "augment": 2, "distort": True, "epochs": 25,
    },
}


# Flags that define a run: with --resume they come from its config.json, and giving one is an
# error (it would be silently ignored); --epochs alone may extend the run.
# --datafile may be named again if it is the run's own file.
FIXED_ON_RESUME = (set(RUN_SETTINGS) | {"run_dir"}) - {"epochs", "datafile"}


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="train.py", description="Train the lesson's MNIST network.")
    p.add_argument("--preset", choices=sorted(PRESETS), default="lesson",
                   help="lesson (default: the lesson's settings) or robust (for real pictures: "
                        "momentum, cosine schedule, distorted digits, 25 epochs); explicit "
                        "flags override the preset")
    p.add_argument("--loss", choices=sorted(LOSSES), default="cross_entropy",
                   help="cross_entropy (10 outputs, default) or mse (the lesson's 1-output "
                        "regression with square error)")
    p.add_argument("--epochs", type=int, default=10, help="passes over the training set (10)")
    p.add_argument("--batch-size", type=int, default=100, help="images per batch (100)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (0.01)")
    p.add_argument("--optimizer", choices=("sgd", "momentum", "adam"), default="sgd",
                   help="sgd (default), momentum or adam")
    p.add_argument("--momentum", type=float, default=0.9, help="momentum for --optimizer momentum")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay (0)")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="learning-rate schedule: constant (default) or cosine decay to 0")
    p.add_argument("--augment", type=int, default=0, metavar="PIXELS",
                   help="shift training images randomly by up to PIXELS pixels (0: off)")
    p.add_argument("--distort", action=argparse.BooleanOptionalAction, default=False,
                   help="distort training images at random: stroke thickness, rotation, scale, "
                        "shear, blur, contrast (shifts by up to --augment pixels)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed; the same seed gives the same loss log on CPU")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="train on the first N training images only (quick checks)")
    p.add_argument("--log-interval", type=int, default=200, metavar="B",
                   help="print the loss every B batches (200)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="cpu (default) or gpu")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for Paddle's kernels (default: the cores, shared among the "
                        "processes of a distributed launch)")
    p.add_argument("--conv", choices=CONVS, default="onednn",
                   help="onednn (default): each convolution block as one oneDNN operator, built "
                        "at first use (mnist/conv_block.py); paddle: Paddle's own ops, slower. "
                        "Both compute the same function")
    p.add_argument("--save", default="work/mnist.pdparams",
                   help="where to save the trained parameters (work/mnist.pdparams)")
    p.add_argument("--run-dir", default=None,
                   help="run directory for logs and checkpoints (work/runs/<loss>-<time>)")
    p.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--datafile", default=DEFAULT_DATAFILE,
                   help=f"the lesson's data file, built if missing ({DEFAULT_DATAFILE})")
    p.add_argument("--mnist-dir", default=None,
                   help="folder with the official MNIST files (default: $MNIST_DIR, else "
                        "Paddle's download cache)")
    p.add_argument("--visualdl", action="store_true",
                   help="also log the run's scalars to RUN_DIR/vdl for VisualDL "
                        "(visualdl --logdir work/runs)")
    p.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="a live progress line with images/s (auto: when stdout is a terminal)")
    return p


def parse_args(argv) -> argparse.Namespace:
    """The flags, with the defaults of the chosen --preset under the explicit ones."""
    parser = build_parser()
    preset = parser.parse_known_args(argv)[0].preset
    parser.set_defaults(**PRESETS[preset])
    return parser.parse_args(argv)


def check_args(args) -> None:
    if args.visualdl:
        try:
            import visualdl  # noqa: F401
        except ImportError as exc:
            raise CliError('--visualdl needs VisualDL: pip install -e ".[visualdl]"') from exc
    positive = {"epochs": args.epochs, "batch-size": args.batch_size,
                "log-interval": args.log_interval, "threads": args.threads or 1}
    for name, value in positive.items():
        if value < 1:
            raise CliError(f"--{name} must be at least 1, not {value}")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        raise CliError(f"--lr must be a positive number, not {args.lr}")
    if args.limit is not None and args.limit < args.batch_size:
        raise CliError(f"--limit {args.limit} is smaller than one batch ({args.batch_size})")
    if args.augment < 0 or args.weight_decay < 0 or not 0 <= args.momentum < 1:
        raise CliError("--augment and --weight-decay must be >= 0 and --momentum in [0, 1)")


def set_device(device: str) -> None:
    if device == "gpu" and not paddle.device.is_compiled_with_cuda():
        raise CliError("--device gpu: this Paddle was built without CUDA (install "
                         "paddlepaddle-gpu), use --device cpu")
    paddle.set_device(device)


class Cluster:
    """This process's place in a ``paddle.distributed.launch`` job (rank 0 of 1 when run alone).

    Data parallel: every process holds the whole model, takes its share of each global batch of
    ``--batch-size`` images, and ``paddle.DataParallel`` averages the gradients, so a step is the
    step one process would take on the whole batch. Rank 0 alone prints and writes files.
    """

    def __init__(self):
        self.world = dist.get_world_size()
        if self.world > 1:
            dist.init_parallel_env()
        self.rank = dist.get_rank()
        self.local_rank = int(os.environ.get("PADDLE_LOCAL_RANK", self.rank))
        self.main = self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over all processes."""
        if self.world == 1:
            return values
        t = paddle.to_tensor(values, dtype="float64")
        dist.all_reduce(t)
        return t.tolist()

    def broadcast_int(self, value: int) -> int:
        if self.world == 1:
            return value
        t = paddle.to_tensor([value], dtype="int64")
        dist.broadcast(t, src=0)
        return int(t.item())

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def same_parameters(self, net) -> bool:
        """True when every process holds bit-identical parameters (compares an md5 of them)."""
        if self.world == 1:
            return True
        digest = hashlib.md5()
        for _name, p in sorted(net.state_dict().items()):
            digest.update(p.numpy().tobytes())
        fingerprint = int(digest.hexdigest()[:15], 16)  # fits in an int64
        high = paddle.to_tensor([fingerprint], dtype="int64")
        low = paddle.to_tensor([-fingerprint], dtype="int64")
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        dist.all_reduce(low, op=dist.ReduceOp.MAX)
        return int(high.item()) == -int(low.item())


# ----------------------------------------------------------------------------------------------
# Pieces of the run
# ----------------------------------------------------------------------------------------------

def make_optimizer(cfg: dict, model, steps_per_epoch: int):
    """(optimizer, learning-rate scheduler or None), stepped once per batch."""
    lr = scheduler = None
    if cfg["schedule"] == "cosine":
        lr = scheduler = paddle.optimizer.lr.CosineAnnealingDecay(
            cfg["lr"], T_max=cfg["epochs"] * steps_per_epoch)
    else:
        lr = cfg["lr"]
    decay = cfg["weight_decay"] or None
    params = model.parameters()
    if cfg["optimizer"] == "sgd":
        opt = paddle.optimizer.SGD(lr, parameters=params, weight_decay=decay)
    elif cfg["optimizer"] == "momentum":
        opt = paddle.optimizer.Momentum(lr, momentum=cfg["momentum"], parameters=params,
                                        weight_decay=decay)
    else:
        opt = paddle.optimizer.Adam(lr, parameters=params, weight_decay=decay)
    return opt, scheduler


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of epoch ``epoch``: a function of (seed, epoch) alone, so a resumed run
    sees exactly the batches an uninterrupted one would."""
    return np.random.default_rng([seed, epoch]).permutation(n)


@paddle.no_grad()
def evaluate(model, loss_kind, images: np.ndarray, labels: np.ndarray, cluster: Cluster,
             batch: int = 1000):
    """(mean loss, accuracy) of the model on whole arrays. In a distributed run every process
    scores its share and the sums are combined, so all ranks get the same figures."""
    share = slice(cluster.rank, None, cluster.world)
    images, labels = images[share], labels[share]
    model.eval()
    loss_sum, correct = 0.0, 0.0
    for i in range(0, len(labels), batch):
        out = model(paddle.to_tensor(images[i:i + batch]))
        y = labels[i:i + batch]
        loss_sum += float(loss_kind.loss(out, paddle.to_tensor(y))) * len(y)
        correct += accuracy(out.numpy(), y) * len(y)
    model.train()
    loss_sum, correct, count = cluster.sum([loss_sum, correct, len(labels)])
    return loss_sum / count, round(correct) / count


class Progress:
    """A live progress line with images/s when stdout is a terminal; nothing otherwise."""

    def __init__(self, enabled: bool, total_batches: int, batch_size: int):
        self.enabled, self.total, self.batch_size = enabled, total_batches, batch_size
        self.start = time.perf_counter()
        self.done = 0

    def update(self, epoch: int, batch: int, loss: float) -> None:
        self.done += 1
        if self.enabled and (self.done % 10 == 0 or batch + 1 == self.total):
            rate = self.done * self.batch_size / (time.perf_counter() - self.start)
            sys.stdout.write(f"\repoch {epoch} [{batch + 1}/{self.total}] loss {loss:.4f} "
                             f"{rate:.0f} images/s ")
            sys.stdout.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stdout.write("\r\033[K")
            sys.stdout.flush()


class Scalars:
    """The run's scalars for VisualDL, Paddle's dashboard (``--visualdl``): batch loss and
    learning rate per step, valid loss and accuracy per epoch, in ``RUN_DIR/vdl``. A no-op
    when off (and off rank 0)."""

    def __init__(self, folder: Path | None):
        self.writer = None
        if folder is not None:  # check_args made sure that VisualDL is there
            from visualdl import LogWriter

            self.writer = LogWriter(logdir=str(folder))

    def add(self, step: int, **values: float) -> None:
        if self.writer is not None:
            for tag, value in values.items():
                self.writer.add_scalar(tag=tag.replace("_", "/", 1), step=step, value=value)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class RunDir:
    """The files of one run directory."""

    LOCK = ".lock"  # held by the run in progress; says which process that is

    def __init__(self, path: Path):
        self.path = path
        self._lock = None

    def lock(self) -> None:
        """Hold the directory until this process ends, or fail at once naming the process that
        holds it. An flock: the system drops it when its process ends, however it ends, so a
        killed run leaves no lock behind to block ``--resume``."""
        try:
            lock = os.fdopen(os.open(self / self.LOCK, os.O_RDWR | os.O_CREAT, 0o644), "r+")
        except OSError as exc:
            raise CliError(f"cannot write the run directory {self.path}: "
                           f"{exc.strerror or exc}") from exc
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(lock)
            lock.close()
            raise CliError(f"the run directory {self.path} is in use by {holder}; wait for "
                           "that run to end, or name another directory") from None
        lock.truncate(0)
        lock.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        lock.flush()
        self._lock = lock  # closed, and so released, with this object or the process

    def __truediv__(self, name):
        return self.path / name

    def write_json(self, name: str, obj) -> None:
        with atomic_write(self / name, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")

    def read_json(self, name: str):
        with open(self / name) as f:
            return json.load(f)

    def truncate_lines(self, name: str, keep: int) -> None:
        """Keep the first ``keep`` lines of a text file (drop what came after a checkpoint)."""
        path = self / name
        lines = path.read_text().splitlines(keepends=True) if path.exists() else []
        with atomic_write(path, "w") as f:
            f.writelines(lines[:keep])


def _lock_holder(lock) -> str:
    """Who holds a run directory's lock, as its lock file says (it writes that just after
    taking the lock, so give it a moment)."""
    for _ in range(20):
        lock.seek(0)
        text = lock.read().strip()
        if text:
            return text
        time.sleep(0.01)
    return "another process"


def new_run_dir(requested: str | None, loss: str) -> RunDir:
    """The run directory of a new run, created and locked (a second run on it fails)."""
    try:
        if requested:
            path = Path(requested)
            path.mkdir(parents=True, exist_ok=True)
        else:  # claimed by mkdir, so two runs started in the same second get two directories
            stamp, n = datetime.now().strftime("%Y%m%d-%H%M%S"), 1
            Path("work/runs").mkdir(parents=True, exist_ok=True)
            while True:
                path = Path("work/runs") / (f"{loss}-{stamp}" + (f"-{n}" if n > 1 else ""))
                try:
                    path.mkdir()
                    break
                except FileExistsError:
                    n += 1
    except OSError as exc:
        raise CliError(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
    run = RunDir(path)
    run.lock()
    if (path / "config.json").exists():
        raise CliError(f"--run-dir {path} already holds a run; use --resume {path} to "
                       "continue it, or name another directory")
    return run


# ----------------------------------------------------------------------------------------------
# Configuration: a new run, or one resumed
# ----------------------------------------------------------------------------------------------

def configure(argv, args, cluster: Cluster) -> tuple[dict, RunDir | None, dict | None]:
    """The run's config, its run directory (None off rank 0) and the checkpoint to resume."""
    if args.batch_size % cluster.world:
        raise CliError(f"--batch-size {args.batch_size} (the global batch) must be a multiple "
                       f"of the {cluster.world} processes")
    if args.resume:
        given = explicit_flags(build_parser(), argv)
        fixed = sorted(given & FIXED_ON_RESUME)
        if fixed:
            flag = "--" + fixed[0].replace("_", "-")
            raise CliError(f"{flag} cannot change a run in progress: --resume continues with the "
                           f"settings in {Path(args.resume) / 'config.json'} (only --epochs may "
                           "extend it)")
        run = RunDir(Path(args.resume))
        if not (run / "config.json").is_file() or not (run / CHECKPOINT).is_file():
            raise CliError(f"--resume {args.resume}: not a run directory with a checkpoint "
                           f"(config.json and {CHECKPOINT})")
        cfg = run.read_json("config.json")
        if "datafile" in given and Path(args.datafile).resolve() != Path(cfg["datafile"]).resolve():
            raise CliError(f"--datafile {args.datafile}: the run was trained on {cfg['datafile']}; "
                           "--resume continues with the run's own data")
        if "epochs" in given:
            cfg["epochs"] = args.epochs
        if cluster.main:  # rank 0 writes the directory: it holds it, as a new run does
            run.lock()
        checkpoint = load_checkpoint(run / CHECKPOINT)
    else:
        cfg = {k: getattr(args, k) for k in RUN_SETTINGS}
        if cfg["seed"] is None:  # record a seed so that the run can be resumed exactly
            cfg["seed"] = int(np.random.SeedSequence().entropy % (2**31))
        cfg["seed"] = cluster.broadcast_int(cfg["seed"])  # every rank starts from rank 0's
        run = new_run_dir(args.run_dir, args.loss) if cluster.main else None
        checkpoint = None
    return cfg, (run if cluster.main else None), checkpoint


def load_checkpoint(path: Path) -> dict:
    """The checkpoint's dict, or a one-line error when the file is damaged or truncated."""
    try:
        checkpoint = load_params(path)  # data only: a checkpoint from elsewhere never runs code
        if not {"model", "optimizer", "position"} <= set(checkpoint):
            raise ValueError("it lacks the model, optimizer or position")
    except UnsafeFileError:
        raise
    except Exception as exc:
        raise CliError(f"cannot read the checkpoint {path}: damaged or truncated "
                       f"({exc.__class__.__name__}); the rest of the run directory is intact "
                       "(its logs and, after the last epoch, model.pdparams)") from exc
    return checkpoint


# ----------------------------------------------------------------------------------------------
# The run's state, its output, and the job
# ----------------------------------------------------------------------------------------------

@dataclass
class State:
    """Where the run is: exactly what a checkpoint saves and restores (built only here)."""
    epoch: int = 0          # the epoch in progress (or the next one)
    batch: int = 0          # the next batch of that epoch
    log_rows: int = 1       # lines of loss_log.csv written so far, header included
    history: list = field(default_factory=list)  # the rows of metrics.jsonl
    elapsed: float = 0.0    # training seconds before this process started

    def checkpoint(self, net, optimizer, elapsed: float) -> dict:
        position = {"epoch": self.epoch, "batch": self.batch, "log_rows": self.log_rows,
                    "history": self.history, "elapsed": elapsed}
        return {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                "position": position}

    @classmethod
    def restore(cls, checkpoint: dict, net, optimizer) -> "State":
        net.set_state_dict(checkpoint["model"])
        optimizer.set_state_dict(checkpoint["optimizer"])
        p = checkpoint["position"]
        return cls(p["epoch"], p["batch"], p["log_rows"], p["history"], p["elapsed"])


class RunLog:
    """Everything rank 0 prints and writes while training: the lesson's lines, loss_log.csv,
    metrics.jsonl, VisualDL's scalars, the progress line. On other ranks it does nothing."""

    def __init__(self, run: RunDir | None, progress: Progress, scalars: Scalars):
        self.run, self.progress, self.scalars = run, progress, scalars
        self.file = None

    def start(self, cfg: dict, state: State, resumed: bool) -> None:
        if self.run is None:
            return
        if resumed:  # drop what came after the checkpoint
            self.run.truncate_lines("loss_log.csv", state.log_rows)
            self.run.truncate_lines("metrics.jsonl", len(state.history))
            self.run.write_json("config.json", cfg)
            print(f"resuming {self.run.path} at epoch {state.epoch}, batch {state.batch}")
        else:
            self.run.write_json("config.json", cfg)
            (self.run / "loss_log.csv").write_text("epoch,batch,loss\n")
            (self.run / "metrics.jsonl").write_text("")
        self.file = open(self.run / "loss_log.csv", "a", newline="")
        self.rows = csv.writer(self.file, lineterminator="\n")

    def say(self, text: str) -> None:
        if self.run is not None:
            print(text, flush=True)

    def error(self, text: str) -> None:
        self.progress.clear()
        if self.run is not None:
            print(text, file=sys.stderr)

    def batch(self, epoch: int, batch: int, step: int, value: float, lr: float,
              interval: int) -> None:
        if self.run is None:
            return
        self.rows.writerow([epoch, batch, f"{value:.6g}"])
        self.scalars.add(step, train_loss=value, train_lr=lr)
        if batch % interval == 0:
            self.progress.clear()
            self.say(f"epoch: {epoch}, batch: {batch}, loss is: {value:.7f}")
        self.progress.update(epoch, batch, value)

    def flush(self) -> None:
        if self.file:
            self.file.flush()
        self.progress.clear()

    def epoch(self, row: dict, epochs: int) -> None:
        if self.run is None:
            return
        with open(self.run / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        self.scalars.add(row["epoch"], valid_loss=row["valid_loss"],
                         valid_accuracy=row["valid_accuracy"])
        self.say(f"epoch {row['epoch']}/{epochs}: valid accuracy {row['valid_accuracy']:.4f}, "
                 f"valid loss {row['valid_loss']:.4f} ({row['seconds']:.1f} s)")

    def close(self) -> None:
        if self.file:
            self.file.close()
        self.scalars.close()


@dataclass
class Job:
    """One training run, set up: flags, cluster, config, data, network, optimizer, log."""
    args: argparse.Namespace
    cfg: dict
    cluster: Cluster
    run: RunDir | None          # the run directory (rank 0 only)
    images: np.ndarray
    labels: np.ndarray
    valid: MnistDataset
    net: MNIST
    model: object               # net, or net wrapped in paddle.DataParallel
    optimizer: object
    scheduler: object
    loss_kind: object
    state: State
    log: RunLog
    started: float = field(default_factory=time.perf_counter)
    epoch_started: float = 0.0
    epoch_losses: list = field(default_factory=list)  # this process's losses of this epoch
    diverged_at: tuple | None = None                  # (loss, epoch, batch)
    stopped_by: int = 0                               # the stop signal, when INTERRUPTED

    @property
    def steps(self) -> int:  # batches per epoch; the last partial batch is dropped (lesson)
        return len(self.labels) // self.cfg["batch_size"]

    def elapsed(self) -> float:
        return self.state.elapsed + time.perf_counter() - self.started

    def save_checkpoint(self) -> None:
        if self.run is not None:
            save_params(self.state.checkpoint(self.net, self.optimizer, self.elapsed()),
                        self.run / CHECKPOINT)


# ----------------------------------------------------------------------------------------------
# The training run
# ----------------------------------------------------------------------------------------------

FINISHED, DIVERGED, INTERRUPTED = "finished", "diverged", "interrupted"


def train(argv=None) -> int:
    """The lesson's loop: epochs of batches, a look at the valid split after each."""
    job = setup(list(sys.argv[1:] if argv is None else argv))
    with interrupt_flag() as interrupted:
        try:
            for epoch in range(job.state.epoch, job.cfg["epochs"]):
                outcome = run_epoch(job, epoch, interrupted)
                if outcome != FINISHED:
                    return stop(job, outcome)
                end_epoch(job, epoch)
        finally:
            job.log.close()
    return finish(job)


def setup(argv: list[str]) -> Job:
    """Flags, device, cluster, config (new or resumed), threads, data, network, optimizer."""
    args = parse_args(argv)  # bad flags fail here, before any process group
    check_args(args)
    set_device(args.device)
    cluster = Cluster()
    cfg, run, checkpoint = configure(argv, args, cluster)
    if args.device == "cpu":
        set_threads(args.threads or max(1, (os.cpu_count() or 1) // cluster.world))
        keep_freed_memory()
    images, labels, valid = load_data(cfg, args.mnist_dir, cluster)
    loss_kind = LOSSES[cfg["loss"]]
    paddle.seed(cfg["seed"])
    net = MNIST(loss_kind.num_outputs, conv=args.conv if args.device == "cpu" else "paddle")
    model = paddle.DataParallel(net) if cluster.world > 1 else net
    optimizer, scheduler = make_optimizer(cfg, net, len(labels) // cfg["batch_size"])
    state = State() if checkpoint is None else State.restore(checkpoint, net, optimizer)
    main = cluster.main
    progress = Progress(main and (args.progress == "on" or
                                  (args.progress == "auto" and sys.stdout.isatty())),
                        len(labels) // cfg["batch_size"], cfg["batch_size"])
    log = RunLog(run, progress, Scalars(run / "vdl" if main and args.visualdl else None))
    log.start(cfg, state, resumed=checkpoint is not None)
    job = Job(args, cfg, cluster, run, images, labels, valid, net, model, optimizer, scheduler,
              loss_kind, state, log)
    log.say(f"training on {len(labels)} images: {job.steps} batches of {cfg['batch_size']} per "
            f"epoch, {cfg['epochs']} epochs, loss {cfg['loss']}"
            + (f", {cluster.world} processes" if cluster.world > 1 else ""))
    model.train()
    return job


def load_data(cfg: dict, mnist_dir, cluster: Cluster):
    """(train images, train labels, valid split). One process per machine builds the data
    file and its cache; the others wait, then read it."""
    if cluster.local_rank == 0:
        build_datafile(cfg["datafile"], mnist_dir)
        MnistDataset("train", cfg["datafile"])  # writes the binary cache once
    cluster.barrier()
    train_set = MnistDataset("train", cfg["datafile"])
    images, labels = train_set.images, train_set.labels
    if cfg["limit"]:
        images, labels = images[:cfg["limit"]], labels[:cfg["limit"]]
    return images, labels, MnistDataset("valid", cfg["datafile"])


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and a scheduler's preemption


@contextlib.contextmanager
def interrupt_flag():
    """A list of the stop signals received (Ctrl-C's SIGINT; SIGTERM, with which Kubernetes,
    SLURM and preemptible machines stop a job): the run stops after the batch in progress."""
    interrupted = []
    previous = [signal.signal(s, lambda signum, _frame: interrupted.append(signum))
                for s in STOP_SIGNALS]
    try:
        yield interrupted
    finally:
        for s, handler in zip(STOP_SIGNALS, previous):
            signal.signal(s, handler)


def batch_images(job: Job, order: np.ndarray, epoch: int, batch: int):
    """The images and labels of one global batch, augmented as the run says."""
    size = job.cfg["batch_size"]
    idx = np.sort(order[batch * size:(batch + 1) * size])
    x = job.images[idx]
    rng = np.random.default_rng([job.cfg["seed"], epoch, batch])
    if job.cfg.get("distort"):
        x = distort(x, rng, job.cfg["augment"])
    elif job.cfg["augment"]:
        x = shift_images(x, job.cfg["augment"], rng)
    return x, job.labels[idx]


def train_step(model, optimizer, scheduler, loss_fn, x: np.ndarray, y: np.ndarray):
    """One step on one batch: forward, loss, backward, update. Returns the loss tensor."""
    loss = loss_fn(model(paddle.to_tensor(x)), paddle.to_tensor(y))
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    if scheduler is not None:
        scheduler.step()
    return loss


def run_epoch(job: Job, epoch: int, interrupted: list) -> str:
    """The batches of one epoch (from where the state says): FINISHED, DIVERGED or INTERRUPTED."""
    cluster, state = job.cluster, job.state
    order = epoch_order(job.cfg["seed"], epoch, len(job.labels))
    job.epoch_losses, job.epoch_started = [], time.perf_counter()
    share = slice(cluster.rank, None, cluster.world)  # this process's images of each batch
    for batch in range(state.batch, job.steps):
        x, y = batch_images(job, order, epoch, batch)
        loss = train_step(job.model, job.optimizer, job.scheduler, job.loss_kind.loss,
                          x[share], y[share])
        # The batch loss is the mean of the processes' losses (equal shares); a stop signal
        # seen by any process stops all of them after the same batch.
        total, *seen = cluster.sum([float(loss), *(float(s in interrupted) for s in STOP_SIGNALS)])
        value = total / cluster.world
        if not math.isfinite(value):
            job.diverged_at = (value, epoch, batch)
            return DIVERGED
        job.log.batch(epoch, batch, epoch * job.steps + batch, value, job.optimizer.get_lr(),
                      job.cfg["log_interval"])
        state.log_rows += 1
        state.batch = batch + 1
        job.epoch_losses.append(value)
        if any(seen):  # SIGTERM wins: the scheduler's word on how the job ended
            job.stopped_by = signal.SIGTERM if seen[1] else signal.SIGINT
            return INTERRUPTED
    return FINISHED


def end_epoch(job: Job, epoch: int) -> None:
    """Validation figures, a metrics row, and a checkpoint at the start of the next epoch."""
    job.log.flush()
    valid_loss, valid_acc = evaluate(job.net, job.loss_kind, job.valid.images, job.valid.labels,
                                     job.cluster)
    losses = job.epoch_losses
    row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)) if losses else None,
           "valid_loss": valid_loss, "valid_accuracy": valid_acc,
           "seconds": time.perf_counter() - job.epoch_started}
    job.state.history.append(row)
    job.log.epoch(row, job.cfg["epochs"])
    job.state.epoch, job.state.batch = epoch + 1, 0
    job.save_checkpoint()


def stop(job: Job, outcome: str) -> int:
    """The run ends early: it diverged (nothing saved is touched) or was interrupted (a
    checkpoint is saved to resume from)."""
    if outcome == DIVERGED:
        value, epoch, batch = job.diverged_at
        kept = (f"; the last good checkpoint is {job.run / CHECKPOINT}"
                if job.run is not None and (job.run / CHECKPOINT).exists() else "")
        job.log.error(f"error: the loss became {value} at epoch {epoch}, batch {batch}: "
                      f"training diverged (try a smaller --lr){kept}")
        return EXIT_FAILED
    job.log.flush()
    job.save_checkpoint()
    how = "interrupted" if job.stopped_by == signal.SIGINT else "terminated (SIGTERM)"
    again = " under the same launch command" if job.cluster.world > 1 else ""
    job.log.error(f"{how} at epoch {job.state.epoch}, batch {job.state.batch}: checkpoint "
                  f"saved; continue with python train.py --resume "
                  f"{job.run.path if job.run else ''}{again}")
    return 128 + job.stopped_by  # 130 for SIGINT, 143 for SIGTERM, as the shell reports them


def finish(job: Job) -> int:
    """Eval figures, the check that all processes agree, the summary, parameters and report."""
    eval_set = MnistDataset("eval", job.cfg["datafile"])
    eval_loss, eval_acc = evaluate(job.net, job.loss_kind, eval_set.images, eval_set.labels,
                                   job.cluster)
    wall = job.elapsed()
    if job.cluster.world > 1:
        if not job.cluster.same_parameters(job.net):
            job.log.error("error: the processes ended with different parameters")
            return EXIT_FAILED
        job.log.say(f"parameters identical on all {job.cluster.world} processes")
    if job.run is None:
        return 0
    history, cfg = job.state.history, job.cfg
    accs = [h["valid_accuracy"] for h in history]
    summary = {"loss": cfg["loss"], "epochs": cfg["epochs"], "eval_accuracy": eval_acc,
               "eval_loss": eval_loss, "final_valid_accuracy": accs[-1] if accs else None,
               "best_valid_accuracy": max(accs) if accs else None,
               "final_train_loss": history[-1]["train_loss"] if history else None,
               "wall_time_s": wall, "processes": job.cluster.world,
               "images_per_s": (len(history) * job.steps * cfg["batch_size"] / wall
                                if wall else None)}
    job.run.write_json("summary.json", summary)
    state = job.net.state_dict()
    save_params(state, job.run / "model.pdparams")
    save_params(state, job.args.save)
    write_report(job.run.path, cfg["datafile"], model=job.net)  # curves, confusions, mistakes
    print(f"eval accuracy {eval_acc:.4f} (eval loss {eval_loss:.4f}); {wall:.0f} s")
    print(f"saved {job.args.save} and the run in {job.run.path}")
    return 0


def main(argv=None) -> int:
    def body(argv):
        try:
            return train(argv)
        except OSError as exc:  # a file that cannot be written: the disk, permissions
            raise CliError(str(exc), EXIT_FAILED) from exc

    return cli.run("train.py", body, argv)
