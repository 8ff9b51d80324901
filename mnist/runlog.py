"""Reading training runs back: run directories written by train.py, and plain text loss logs.

A text log is what a terminal or notebook showed, in the lesson's format:

    epoch: 0, batch: 200, loss is: [0.4289544]      (with or without the brackets)

plus, when train.py printed it, ``epoch 1/10: valid accuracy 0.9743, ...`` and
``eval accuracy 0.9816 ...`` lines. Both kinds of input become a ``Run``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from mnist.cli import CliError
from mnist.rundir import CONFIG, LOSS_LOG, RunDir

LOSS_LINE = re.compile(
    r"epoch:\s*(\d+),\s*batch(?:_id)?:\s*(\d+),\s*loss is:\s*\[?\s*([-+0-9.eEinfa]+)\s*\]?")
VALID_LINE = re.compile(r"epoch ([0-9.]+)/[0-9.]+: valid accuracy ([0-9.]+)")
STEPS_LINE = re.compile(r"(\d+) batches of \d+ per epoch")
EVAL_LINE = re.compile(r"eval accuracy ([0-9.]+)(?:.*?; ([0-9.]+) s)?")


class RunLogError(CliError):
    """An input that is neither a run directory nor a loss log; the message names it."""


@dataclass
class Run:
    name: str
    source: str
    loss: str | None                      # cross_entropy, mse, or None when unknown
    epochs: list[float] = field(default_factory=list)   # fractional epoch of each loss point
    losses: list[float] = field(default_factory=list)
    valid_accuracy: list[tuple[float, float]] = field(default_factory=list)  # (epoch, accuracy)
    eval_accuracy: float | None = None
    wall_time_s: float | None = None

    @property
    def num_epochs(self) -> float:
        if self.valid_accuracy:  # 1.5 for a run of --epochs 1.5
            last = max(e for e, _ in self.valid_accuracy)
            return int(last) if last.is_integer() else last
        return int(math.floor(self.epochs[-1])) + 1 if self.epochs else 0

    def final_loss(self) -> float:
        """Mean training loss over the last epoch's points (one point alone is too noisy)."""
        last = math.floor(self.epochs[-1])
        tail = [loss for e, loss in zip(self.epochs, self.losses) if math.floor(e) == last]
        return sum(tail) / len(tail)


def read_run_dir(path: Path) -> Run:
    """A run directory of train.py, read through mnist.rundir."""
    run_dir = RunDir(path)
    steps = run_dir.steps_per_epoch()
    run = Run(name=path.name, source=str(path), loss=run_dir.config().get("loss"))
    try:
        for epoch, batch, loss in run_dir.loss_rows():
            run.epochs.append(epoch + batch / steps)
            run.losses.append(loss)
    except ValueError as exc:
        raise RunLogError(str(exc)) from exc
    if not run.losses:
        raise RunLogError(f"{path / LOSS_LOG}: no loss rows yet (the run has not finished a "
                          "batch)")
    run.valid_accuracy = [(float(m["epoch"]), float(m["valid_accuracy"]))
                          for m in run_dir.metrics()]
    summary = run_dir.summary()
    if summary:
        run.eval_accuracy, run.wall_time_s = summary.get("eval_accuracy"), summary.get("wall_time_s")
    return run


def guess_loss(name: str) -> str | None:
    lowered = name.lower()
    if "mse" in lowered or "square" in lowered:
        return "mse"
    if "cross" in lowered or "ce" in re.split(r"[^a-z]+", lowered):
        return "cross_entropy"
    return None


def read_text_log(path: Path, batches_per_epoch: int | None = None) -> Run:
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise RunLogError(f"{path}: not a run directory and not a text log") from exc
    points = [(int(m[1]), int(m[2]), float(m[3])) for m in LOSS_LINE.finditer(text)]
    if not points:
        raise RunLogError(f"{path}: no loss lines in it (expected lines like "
                          "'epoch: 0, batch: 200, loss is: 0.43')")
    steps_line = STEPS_LINE.search(text)  # train.py says it; the lesson's notebook did not
    if batches_per_epoch is None and steps_line:
        batches_per_epoch = int(steps_line[1])
    if batches_per_epoch is None:
        # Only every few batches are printed: take the highest batch seen, rounded up to a
        # hundred (the lesson's 500 batches print 0, 200 and 400). --batches-per-epoch overrides.
        batches_per_epoch = max(100, math.ceil((max(b for _e, b, _l in points) + 1) / 100) * 100)
    run = Run(name=path.stem, source=str(path), loss=guess_loss(path.name))
    for epoch, batch, loss in points:
        run.epochs.append(epoch + batch / batches_per_epoch)
        run.losses.append(loss)
    run.valid_accuracy = [(float(m[1]), float(m[2])) for m in VALID_LINE.finditer(text)]
    evals = EVAL_LINE.findall(text)
    if evals:
        run.eval_accuracy = float(evals[-1][0])
        run.wall_time_s = float(evals[-1][1]) if evals[-1][1] else None
    return run


def read_run(source: str, batches_per_epoch: int | None = None) -> Run:
    """A run directory or a text log; anything else raises RunLogError naming it."""
    path = Path(source)
    if path.is_dir():
        if not RunDir(path).is_run():
            raise RunLogError(f"{source}: not a run directory of train.py "
                              f"(no {CONFIG} and {LOSS_LOG})")
        try:
            return read_run_dir(path)
        except (ValueError, KeyError, OSError) as exc:
            raise RunLogError(f"{source}: a damaged run directory ({exc})") from exc
    if not path.is_file():
        raise RunLogError(f"{source}: no such file or directory")
    return read_text_log(path, batches_per_epoch)
