"""``python train.py``: train the lesson's network on MNIST, with logs, checkpoints and metrics.

The defaults are the lesson's run: cross-entropy, SGD lr 0.01, batch 100 (shuffled, last partial
batch dropped), 10 epochs, a line ``epoch: E, batch: B, loss is: X`` every 200 batches, and the
parameters saved to ``work/mnist.pdparams``. ``--loss mse`` trains the lesson's "before" model.

This module is the run itself: setting it up and the loop. Its pieces each have a module:
the flags and presets (mnist/flags.py), the processes of a launch (mnist/cluster.py), the run
directory and its checkpoint (mnist/rundir.py), and what is printed and logged
(mnist/trainlog.py).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import paddle

from mnist import cli
from mnist.augment import distort, shift_images
from mnist.cli import EXIT_FAILED, CliError, check_writable, explicit_flags
from mnist.cluster import Cluster, set_device
from mnist.cpu import keep_freed_memory, set_threads
from mnist.data import MnistDataset
from mnist.flags import (
    FIXED_ON_RESUME,
    PROG,
    RUN_SETTINGS,
    SETTINGS_BEFORE,
    build_parser,
    check_args,
    check_settings,
    parse_args,
)
from mnist.losses import LOSSES, accuracy
from mnist.model import MNIST
from mnist.optim import epoch_order, make_optimizer, total_steps
from mnist.params import save_params
from mnist.report import write_report
from mnist.rundir import CHECKPOINT, CONFIG, VISUALDL, RunDir, State, new_run_dir
from mnist.trainlog import Progress, RunLog, Scalars
from mnist.trainset import load_data

# ----------------------------------------------------------------------------------------------
# Pieces of the run
# ----------------------------------------------------------------------------------------------

@paddle.no_grad()
def evaluate(model, loss_kind, images: np.ndarray, labels: np.ndarray, cluster: Cluster,
             batch: int):
    """(mean loss, accuracy, this process's outputs) of the model on whole arrays. In a
    distributed run every process scores its share and the sums are combined, so all ranks get
    the same figures. ``batch``: the training batch of one process, whose oneDNN plan and
    buffers exist already (a batch of another size gets buffers of its own, kept to the end)."""
    share = slice(cluster.rank, None, cluster.world)
    images, labels = images[share], labels[share]
    model.eval()
    loss_sum, correct, outputs = 0.0, 0.0, []
    for i in range(0, len(labels), batch):
        out = model(paddle.to_tensor(images[i:i + batch]))
        y = labels[i:i + batch]
        loss_sum += float(loss_kind.loss(out, paddle.to_tensor(y))) * len(y)
        outputs.append(out.numpy())
        correct += accuracy(outputs[-1], y) * len(y)
    model.train()
    loss_sum, correct, count = cluster.sum([loss_sum, correct, len(labels)])
    return loss_sum / count, round(correct) / count, np.concatenate(outputs)


# ----------------------------------------------------------------------------------------------
# Configuration: a new run, or one resumed
# ----------------------------------------------------------------------------------------------

def configure(argv, args, cluster: Cluster) -> tuple[dict, RunDir | None, dict | None]:
    """The run's config, its run directory (None off rank 0) and the checkpoint to resume."""
    if args.resume:
        given = explicit_flags(build_parser(), argv)
        fixed = sorted(given & FIXED_ON_RESUME)
        if fixed:
            flag = "--" + fixed[0].replace("_", "-")
            raise CliError(f"{flag} cannot change a run in progress: --resume continues with the "
                           f"settings in {Path(args.resume) / CONFIG} (only --epochs may "
                           "extend it)")
        run = RunDir(Path(args.resume))
        if not (run.is_run() and run.has_checkpoint()):
            raise CliError(f"--resume {args.resume}: not a run directory with a checkpoint "
                           f"({CONFIG} and {CHECKPOINT})")
        try:
            cfg = {**SETTINGS_BEFORE, **run.config()}  # a run from before a flag: its default
        except (ValueError, TypeError) as exc:
            raise CliError(f"{run.path / CONFIG}: not a run's settings ({exc})") from exc
        check_settings(cfg, str(run.path / CONFIG))
        if "datafile" in given and Path(args.datafile).resolve() != Path(cfg["datafile"]).resolve():
            raise CliError(f"--datafile {args.datafile}: the run was trained on {cfg['datafile']}; "
                           "--resume continues with the run's own data")
        if "epochs" in given:
            cfg["epochs"] = args.epochs
        if cluster.main:  # rank 0 writes the directory: it holds it, as a new run does
            run.lock()
        checkpoint = run.checkpoint()
    else:
        cfg = {k: getattr(args, k) for k in RUN_SETTINGS}
        if cfg["seed"] is None:  # record a seed so that the run can be resumed exactly
            cfg["seed"] = int(np.random.SeedSequence().entropy % (2**31))
        cfg["seed"] = cluster.broadcast_int(cfg["seed"])  # every rank starts from rank 0's
        run = new_run_dir(args.run_dir, args.loss) if cluster.main else None
        checkpoint = None
    return cfg, (run if cluster.main else None), checkpoint


# ----------------------------------------------------------------------------------------------
# The run's state, its output, and the job
# ----------------------------------------------------------------------------------------------

@dataclass
class Job:
    """One training run, set up: flags, cluster, config, data, network, optimizer, log."""
    args: argparse.Namespace
    cfg: dict
    cluster: Cluster
    run: RunDir | None          # the run directory (rank 0 only)
    images: np.ndarray | None  # the training set (None once trained)
    labels: np.ndarray | None
    valid: MnistDataset
    net: MNIST
    model: object               # net, or net wrapped in paddle.DataParallel
    optimizer: object
    scheduler: object
    loss_kind: object
    state: State
    log: RunLog
    train_loss: object = None   # the loss trained on (label smoothing, not-digits)
    started: float = field(default_factory=time.perf_counter)
    epoch_started: float = 0.0
    epoch_losses: list = field(default_factory=list)  # this process's losses of this epoch
    diverged_at: tuple | None = None                  # (loss, epoch, batch)
    stopped_by: int = 0                               # the stop signal, when INTERRUPTED

    @property
    def process_batch(self) -> int:  # this process's share of a batch
        return self.cfg["batch_size"] // self.cluster.world

    @property
    def steps(self) -> int:  # batches per epoch; the last partial batch is dropped (lesson)
        return self.cfg["steps_per_epoch"]

    def batches_in(self, epoch: int) -> int:
        """The batches of epoch ``epoch``: all of them, but fewer in the last of a run of
        --epochs 1.5."""
        return min(self.steps, total_steps(self.cfg, self.steps) - epoch * self.steps)

    def elapsed(self) -> float:
        return self.state.elapsed + time.perf_counter() - self.started

    def save_checkpoint(self) -> None:
        if self.run is not None:
            self.run.write_checkpoint(
                self.state.checkpoint(self.net, self.optimizer, self.elapsed()))


# ----------------------------------------------------------------------------------------------
# The training run
# ----------------------------------------------------------------------------------------------

FINISHED, DIVERGED, INTERRUPTED = "finished", "diverged", "interrupted"


def train(argv=None) -> int:
    """The lesson's loop: epochs of batches, a look at the valid split after each."""
    job = setup(list(sys.argv[1:] if argv is None else argv))
    with interrupt_flag() as interrupted:
        try:
            for epoch in range(job.state.epoch, math.ceil(job.cfg["epochs"])):
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
    check_writable(args.save, "--save")  # an output that cannot be written fails before the work
    args.device = set_device(args.device)  # 'auto' resolved: the run says which
    cluster = Cluster(args.batch_size)
    cfg, run, checkpoint = configure(argv, args, cluster)
    if args.device == "cpu":
        set_threads(args.threads or max(1, (os.cpu_count() or 1) // cluster.world))
        keep_freed_memory()
    images, labels, valid = load_data(cfg, args.mnist_dir, cluster)
    loss_kind = LOSSES[cfg["loss"]]
    paddle.seed(cfg["seed"])
    net = MNIST(loss_kind.num_outputs, conv=args.conv if args.device == "cpu" else "paddle")
    model = paddle.DataParallel(net) if cluster.world > 1 else net
    steps = len(labels) // cfg["batch_size"]  # the last partial batch is dropped (lesson)
    optimizer, scheduler = make_optimizer(cfg, net, steps)
    state = State() if checkpoint is None else State.restore(checkpoint, net, optimizer)
    # how this process computes, and the batches of an epoch: recorded, never guessed
    cfg.update(conv="onednn" if net.fast_block is not None else "paddle", steps_per_epoch=steps)
    main = cluster.main
    progress = Progress(main and (args.progress == "on" or
                                  (args.progress == "auto" and sys.stdout.isatty())),
                        steps, cfg["batch_size"])
    log = RunLog(run, progress, Scalars(run / VISUALDL if main and args.visualdl else None))
    log.start(cfg, state, resumed=checkpoint is not None)
    job = Job(args, cfg, cluster, run, images, labels, valid, net, model, optimizer, scheduler,
              loss_kind, state, log, loss_kind.training_loss(cfg["label_smoothing"], cfg["not_digits"] > 0))
    log.say(f"training on {len(labels)} images: {job.steps} batches of {cfg['batch_size']} per "
            f"epoch, {cfg['epochs']} epochs, loss {cfg['loss']}, on the {args.device.upper()}"
            + (f", {cluster.world} processes" if cluster.world > 1 else ""))
    model.train()
    return job


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
    for batch in range(state.batch, job.batches_in(epoch)):
        x, y = batch_images(job, order, epoch, batch)
        loss = train_step(job.model, job.optimizer, job.scheduler, job.train_loss,
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
    """Validation figures and a metrics row (after the last epoch only, with --validate end),
    and a checkpoint at the start of the next epoch."""
    job.log.flush()
    done = job.batches_in(epoch)  # fewer than job.steps in the last epoch of --epochs 1.5
    if job.cfg["validate"] == "epoch" or epoch + 1 == math.ceil(job.cfg["epochs"]):
        record_epoch(job, epoch, done)
    # an epoch cut short stays open: --resume --epochs 2 ends it
    job.state.epoch, job.state.batch = (epoch + 1, 0) if done == job.steps else (epoch, done)
    job.save_checkpoint()


def record_epoch(job: Job, epoch: int, done: int) -> None:
    """The valid split's loss and accuracy, and the epoch's row in metrics.jsonl (an epoch of
    ``done`` batches out of ``job.steps``: 1.5 for half of the second)."""
    valid_loss, valid_acc, _ = evaluate(job.net, job.loss_kind, job.valid.images,
                                        job.valid.labels, job.cluster, job.process_batch)
    losses = job.epoch_losses
    row = {"epoch": epoch + 1 if done == job.steps else round(epoch + done / job.steps, 4),
           "train_loss": float(np.mean(losses)) if losses else None,
           "valid_loss": valid_loss, "valid_accuracy": valid_acc,
           "seconds": time.perf_counter() - job.epoch_started}
    job.state.history.append(row)
    job.log.epoch(row, job.cfg["epochs"])


def stop(job: Job, outcome: str) -> int:
    """The run ends early: it diverged (nothing saved is touched) or was interrupted (a
    checkpoint is saved to resume from)."""
    if outcome == DIVERGED:
        value, epoch, batch = job.diverged_at
        kept = (f"; the last good checkpoint is {job.run / CHECKPOINT}"
                if job.run is not None and job.run.has_checkpoint() else "")
        job.log.error(f"the loss became {value} at epoch {epoch}, batch {batch}: "
                      f"training diverged (try a smaller --lr){kept}")
        return EXIT_FAILED
    job.log.flush()
    job.save_checkpoint()
    how = "interrupted" if job.stopped_by == signal.SIGINT else "terminated (SIGTERM)"
    again = " under the same launch command" if job.cluster.world > 1 else ""
    job.log.notice(f"{how} at epoch {job.state.epoch}, batch {job.state.batch}: checkpoint "
                  f"saved; continue with python train.py --resume "
                  f"{job.run.path if job.run else ''}{again}")
    return 128 + job.stopped_by  # 130 for SIGINT, 143 for SIGTERM, as the shell reports them


def finish(job: Job) -> int:
    """Eval figures, the check that all processes agree, the summary, parameters and report."""
    job.images = job.labels = None  # done with: the training set's memory goes back first
    eval_set = MnistDataset("eval", job.cfg["datafile"])
    eval_loss, eval_acc, outputs = evaluate(job.net, job.loss_kind, eval_set.images,
                                            eval_set.labels, job.cluster, job.process_batch)
    wall = job.elapsed()
    if job.cluster.world > 1:
        if not job.cluster.same_parameters(job.net):
            job.log.error("the processes ended with different parameters")
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
               "images_per_s": (total_steps(cfg, job.steps) * cfg["batch_size"] / wall
                                if wall else None)}
    job.run.write_summary(summary)
    state = job.net.state_dict()
    job.run.write_model(state)
    save_params(state, job.args.save)
    # curves, confusions, mistakes; a process scored only its share of the eval split
    write_report(job.run.path, cfg["datafile"], model=job.net,
                 scored=((eval_set.images, eval_set.labels, outputs)
                         if job.cluster.world == 1 else None))
    print(f"eval accuracy {eval_acc:.4f} (eval loss {eval_loss:.4f}); {wall:.0f} s")
    print(f"saved {job.args.save} and the run in {job.run.path}")
    return 0


def main(argv=None) -> int:
    return cli.run(PROG, train, argv)
