"""What rank 0 shows and logs while training: the lesson's lines, the run directory's logs,
VisualDL's scalars and the live progress line. On other ranks it does nothing.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

from mnist import cli
from mnist.flags import PROG
from mnist.rundir import RunDir, State


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


class RunLog:
    """Everything rank 0 prints and writes while training: the lesson's lines, loss_log.csv,
    metrics.jsonl, VisualDL's scalars, the progress line. On other ranks it does nothing."""

    def __init__(self, run: RunDir | None, progress: Progress, scalars: Scalars):
        self.run, self.progress, self.scalars = run, progress, scalars
        self.file = None

    def start(self, cfg: dict, state: State, resumed: bool) -> None:
        if self.run is None:
            return
        self.run.start_logs(cfg, state if resumed else None)
        if resumed:
            print(f"resuming {self.run.path} at epoch {state.epoch}, batch {state.batch}")
        self.file = self.run.open_loss_log()
        self.rows = csv.writer(self.file, lineterminator="\n")

    def say(self, text: str) -> None:
        if self.run is not None:
            print(text, flush=True)

    def error(self, message: str) -> None:
        """``train.py: error: message``, the one form of an error line (mnist/cli.py)."""
        self.progress.clear()
        if self.run is not None:
            cli.error(PROG, message)

    def notice(self, text: str) -> None:
        """A line on stderr that is not an error: how a stopped run can go on."""
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
        self.run.append_metrics(row)
        self.scalars.add(row["epoch"], valid_loss=row["valid_loss"],
                         valid_accuracy=row["valid_accuracy"])
        self.say(f"epoch {row['epoch']}/{epochs}: valid accuracy {row['valid_accuracy']:.4f}, "
                 f"valid loss {row['valid_loss']:.4f} ({row['seconds']:.1f} s)")

    def close(self) -> None:
        if self.file:
            self.file.close()
        self.scalars.close()
