"""The run directory: the one module that knows its files, writes them and reads them back.

    config.json     the settings of the run (``--resume`` reads them back), how it computed
                    (``conv``) and its batches per epoch (``steps_per_epoch``)
    loss_log.csv    epoch,batch,loss for every batch
    metrics.jsonl   one JSON object per epoch: train loss, valid loss and accuracy, seconds
    summary.json    the final figures: eval accuracy, best valid accuracy, wall time
    report.png      the run's report (mnist/report.py)
    checkpoint.pd   model + optimizer + position (``State``), after every epoch and on a stop
    model.pdparams  the trained parameters
    vdl/            VisualDL's scalars (``--visualdl``)
    .lock           held by the run in progress (``filelock``: the system drops it with its
                    process, on every platform)
    .owner          which process holds the lock, for the message of a second run

Training writes through ``RunDir``; ``mnist.runlog`` (and so compare.py, the report and the
app) reads through it.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from mnist.cli import DEFAULT_RUNS, CliError
from mnist.files import atomic_write
from mnist.params import UnsafeFileError, load_params, save_params

CONFIG, LOSS_LOG, METRICS, SUMMARY = "config.json", "loss_log.csv", "metrics.jsonl", "summary.json"
REPORT, CHECKPOINT, MODEL, VISUALDL = "report.png", "checkpoint.pd", "model.pdparams", "vdl"
LOSS_LOG_HEADER = "epoch,batch,loss\n"
TRAIN_IMAGES = 50000  # the train split, for runs written before steps_per_epoch was recorded


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


class RunDir:
    """One run directory: its lock, and every file in it, written and read."""

    LOCK, OWNER = ".lock", ".owner"  # held by the run in progress; which process that is

    def __init__(self, path: Path):
        self.path = path
        self._lock = None

    def lock(self) -> None:
        """Hold the directory until this process ends, or fail at once naming the process that
        holds it. A system lock (flock, or Windows' file lock) goes with its process, however
        it ends, so a killed run leaves no lock behind to block ``--resume``."""
        lock = FileLock(str(self / self.LOCK))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise CliError(f"the run directory {self.path} is in use by {self._owner()}; wait "
                           "for that run to end, or name another directory") from None
        except OSError as exc:
            raise CliError(f"cannot write the run directory {self.path}: "
                           f"{exc.strerror or exc}") from exc
        with atomic_write(self / self.OWNER, "w") as f:
            f.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        self._lock = lock  # released with this object or the process

    def _owner(self) -> str:
        """Who holds the lock, as its owner file says (written just after the lock is taken,
        so give it a moment)."""
        for _ in range(20):
            try:
                return (self / self.OWNER).read_text().strip() or "another process"
            except FileNotFoundError:
                time.sleep(0.01)
        return "another process"

    def __truediv__(self, name):
        return self.path / name

    def _write_json(self, name: str, obj) -> None:
        with atomic_write(self / name, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")

    def _read_json(self, name: str):
        with open(self / name) as f:
            return json.load(f)

    def _truncate_lines(self, name: str, keep: int) -> None:
        """Keep the first ``keep`` lines of a text file (drop what came after a checkpoint)."""
        path = self / name
        lines = path.read_text().splitlines(keepends=True) if path.exists() else []
        with atomic_write(path, "w") as f:
            f.writelines(lines[:keep])

    # --- what training writes -------------------------------------------------------------

    def start_logs(self, cfg: dict, state: State | None) -> None:
        """The config, and logs that hold exactly what ``state`` (None: a new run) has seen."""
        if state is None:
            (self / LOSS_LOG).write_text(LOSS_LOG_HEADER)
            (self / METRICS).write_text("")
        else:  # resumed: drop what came after the checkpoint
            self._truncate_lines(LOSS_LOG, state.log_rows)
            self._truncate_lines(METRICS, len(state.history))
        self._write_json(CONFIG, cfg)

    def open_loss_log(self):
        """loss_log.csv, open to append rows."""
        return open(self / LOSS_LOG, "a", newline="")

    def append_metrics(self, row: dict) -> None:
        with open(self / METRICS, "a") as f:
            f.write(json.dumps(row) + "\n")

    def write_summary(self, summary: dict) -> None:
        self._write_json(SUMMARY, summary)

    def write_checkpoint(self, checkpoint: dict) -> None:
        save_params(checkpoint, self / CHECKPOINT)

    def write_model(self, state_dict) -> None:
        save_params(state_dict, self / MODEL)

    # --- what everything reads ------------------------------------------------------------

    def is_run(self) -> bool:
        """A run directory of train.py: a config and a loss log."""
        return (self / CONFIG).is_file() and (self / LOSS_LOG).is_file()

    def has_checkpoint(self) -> bool:
        return (self / CHECKPOINT).is_file()

    def has_model(self) -> bool:
        return (self / MODEL).is_file()

    def config(self) -> dict:
        return self._read_json(CONFIG)

    def summary(self) -> dict | None:
        return self._read_json(SUMMARY) if (self / SUMMARY).is_file() else None

    def metrics(self) -> list[dict]:
        if not (self / METRICS).is_file():
            return []
        return [json.loads(line) for line in (self / METRICS).read_text().splitlines()
                if line.strip()]

    def loss_rows(self):
        """(epoch, batch, loss) of every row of the loss log; ValueError names a bad line."""
        with open(self / LOSS_LOG, newline="") as f:
            for n, row in enumerate(csv.DictReader(f), start=2):
                try:
                    yield int(row["epoch"]), int(row["batch"]), float(row["loss"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise ValueError(f"{self / LOSS_LOG}: damaged at line {n} "
                                     f"({exc.__class__.__name__}: {exc})") from exc

    def steps_per_epoch(self) -> int:
        """As recorded in config.json; a run written before it was recorded: from its settings."""
        config = self.config()
        if "steps_per_epoch" in config:
            return config["steps_per_epoch"]
        return (config.get("limit") or TRAIN_IMAGES) // config.get("batch_size", 100)

    def checkpoint(self) -> dict:
        """The checkpoint's dict (read as data only), or a one-line error when the file is
        damaged or truncated, or holds something other than parameters."""
        path = self / CHECKPOINT
        try:
            checkpoint = load_params(path)
            if not {"model", "optimizer", "position"} <= set(checkpoint):
                raise ValueError("it lacks the model, optimizer or position")
        except UnsafeFileError:
            raise
        except Exception as exc:
            raise CliError(f"cannot read the checkpoint {path}: damaged or truncated "
                           f"({exc.__class__.__name__}); the rest of the run directory is "
                           f"intact (its logs and, after the last epoch, {MODEL})") from exc
        return checkpoint


def new_run_dir(requested: str | None, loss: str) -> RunDir:
    """The run directory of a new run, created and locked (a second run on it fails)."""
    try:
        if requested:
            path = Path(requested)
            path.mkdir(parents=True, exist_ok=True)
        else:  # claimed by mkdir, so two runs started in the same second get two directories
            stamp, n = datetime.now().strftime("%Y%m%d-%H%M%S"), 1
            Path(DEFAULT_RUNS).mkdir(parents=True, exist_ok=True)
            while True:
                path = Path(DEFAULT_RUNS) / (f"{loss}-{stamp}" + (f"-{n}" if n > 1 else ""))
                try:
                    path.mkdir()
                    break
                except FileExistsError:
                    n += 1
    except OSError as exc:
        raise CliError(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
    run = RunDir(path)
    run.lock()
    if (path / CONFIG).exists():
        raise CliError(f"--run-dir {path} already holds a run; use --resume {path} to "
                       "continue it, or name another directory")
    return run
