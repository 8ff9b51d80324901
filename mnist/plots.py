"""Every figure the project draws, in one place: the training curves (``compare.py``), a run's
report (``report.png``, mnist/report.py) and saving a figure atomically. matplotlib is
imported when a figure is made, never on import, and draws into files only (no display).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist.files import atomic_write
from mnist.losses import predicted_digits

MISTAKES = 24  # the most confident mistakes shown in a report


def _pyplot():
    import matplotlib

    if "inline" not in matplotlib.get_backend():  # a notebook keeps showing its own figures
        matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def save(fig, out: Path, dpi: int) -> None:
    """Write ``fig`` to ``out`` (its suffix names the format) atomically, then close it."""
    with atomic_write(out) as f:
        fig.savefig(f, format=Path(out).suffix[1:], dpi=dpi)
    _pyplot().close(fig)


def smooth(values: list[float], window: int) -> np.ndarray:
    """Moving average over ``window`` points (shorter at the start)."""
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(v) < 2:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def _minor_log_label(value: float, _pos) -> str:
    """2, 3 and 5 times a power of ten get a label between a log axis's decades."""
    if value <= 0:
        return ""
    leading = value / 10 ** np.floor(np.log10(value))
    return f"{value:g}" if round(leading) in (2, 3, 5) and abs(leading - round(leading)) < 1e-6 else ""


def draw_curves(runs, loss_ax, acc_ax, window: int = 1) -> None:
    """The training loss of each run (log scale) on ``loss_ax``, its validation accuracy per
    epoch on ``acc_ax`` (None: left out)."""
    for run in runs:
        label = f"{run.name} ({run.loss})" if run.loss else run.name
        (line,) = loss_ax.plot(run.epochs, smooth(run.losses, window), label=label, linewidth=1.2)
        line.set_gid(f"loss: {run.name}")  # an id in .svg output: one curve per run, checkable
    loss_ax.set_yscale("log")
    # plain numbers (0.3, 1) on the log axis: easier to read than 3x10^-1, and no mathtext to
    # typeset (a fifth of the report's drawing time)
    from matplotlib.ticker import FuncFormatter

    loss_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    loss_ax.yaxis.set_minor_formatter(FuncFormatter(_minor_log_label))
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss (log scale)" + (f", mean of {window} batches" if window > 1 else ""))
    # y=1 places each title where matplotlib would (no tick labels above an axes), without
    # its search through every tick label for room: the same picture, about 0.03 s sooner
    loss_ax.set_title("training loss: scales differ by loss, compare shapes only", y=1)
    loss_ax.grid(True, which="both", alpha=0.3)
    loss_ax.legend()
    if acc_ax is None:
        return
    for run in runs:
        if run.valid_accuracy:
            epochs, accs = zip(*run.valid_accuracy)
            (line,) = acc_ax.plot(epochs, [100 * a for a in accs], marker="o", label=run.name)
            line.set_gid(f"accuracy: {run.name}")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("validation accuracy (%)")
    acc_ax.set_title("validation accuracy: this decides", y=1)
    acc_ax.grid(True, alpha=0.3)
    acc_ax.legend()


def comparison_figure(runs, window: int, title: str):
    """compare.py's figure: the training loss of every run, and beside it (when any run has
    one) the validation accuracy per epoch."""
    plt = _pyplot()
    with_acc = any(r.valid_accuracy for r in runs)
    fig, axes = plt.subplots(1, 2 if with_acc else 1, figsize=(12 if with_acc else 7, 4.5),
                             squeeze=False)
    draw_curves(runs, axes[0][0], axes[0][1] if with_acc else None, window)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion(labels: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((10, 10), np.int64)
    np.add.at(counts, (labels, digits), 1)
    return counts


def worst_mistakes(outputs: np.ndarray, labels: np.ndarray, k: int = MISTAKES) -> np.ndarray:
    """Indices of wrong predictions, most confident first (for a one-output model: furthest)."""
    digits = predicted_digits(outputs)
    wrong = np.flatnonzero(digits != labels)
    if outputs.shape[-1] > 1:
        score = outputs[wrong, digits[wrong]]
    else:
        score = np.abs(outputs[wrong, 0] - labels[wrong])
    return wrong[np.argsort(-score)][:k]


def report_figure(run, images: np.ndarray, labels: np.ndarray, outputs: np.ndarray):
    """The report as a matplotlib Figure; ``run`` is a mnist.runlog.Run, ``outputs`` the model's
    probabilities [N, 10] (or values [N, 1]) on ``images``."""
    plt = _pyplot()
    digits = predicted_digits(outputs)
    counts = confusion(labels, digits)
    fig = plt.figure(figsize=(14, 11))
    # fixed margins: tight_layout's search over 7 axes took most of a second
    grid = fig.add_gridspec(3, 4, height_ratios=[1, 1.1, 0.75], left=0.07, right=0.98,
                            bottom=0.02, top=0.93, wspace=0.45, hspace=0.38)
    draw_curves([run], fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2:]), window=25)

    ax = fig.add_subplot(grid[1, :2])
    ax.imshow(np.log1p(counts), cmap="Blues")
    for t in range(10):
        for p in range(10):
            if counts[t, p]:
                ax.text(p, t, counts[t, p], ha="center", va="center", fontsize=7,
                        color="white" if t == p else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"confusion matrix, eval split ({np.mean(digits == labels):.2%} right)", y=1)

    ax = fig.add_subplot(grid[1, 2:])
    per_digit = counts.diagonal() / np.maximum(counts.sum(axis=1), 1)
    bars = ax.bar(range(10), 100 * per_digit, color="tab:blue")
    ax.bar_label(bars, labels=[f"{100 * a:.1f}" for a in per_digit], fontsize=8)
    ax.set_ylim(max(0, 100 * per_digit.min() - 5), 100.5)
    ax.set_xticks(range(10))
    ax.set_xlabel("true digit")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy per digit, eval split", y=1)

    draw_mistakes(fig.add_subplot(grid[2, :]), images, labels, outputs, digits)
    fig.suptitle(f"run {run.name}" + (f" ({run.loss})" if run.loss else ""), fontsize=13)
    return fig


def draw_mistakes(ax, images, labels, outputs, digits, per_row: int = MISTAKES // 2) -> None:
    """The most confident mistakes as one picture on ``ax``: a row of digits, each with
    "true→predicted" and its p (or value) above it."""
    worst = worst_mistakes(outputs, labels)
    width, height, rows = 28 + 22, 28 + 26, 2  # a digit, and room for two lines above it
    mosaic = np.zeros((rows * height, per_row * width), np.float32)
    for i, j in enumerate(worst):
        r, c = divmod(i, per_row)
        y, x = r * height + height - 28, c * width + 11
        mosaic[y:y + 28, x:x + 28] = images[j, 0]
        conf = f"p={outputs[j, digits[j]]:.2f}" if outputs.shape[-1] > 1 else f"v={outputs[j, 0]:.1f}"
        ax.text(x + 14, y - 2, f"{labels[j]}→{digits[j]}\n{conf}", ha="center", va="bottom",
                fontsize=8)
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1, aspect="equal")
    ax.axis("off")
    ax.set_title("the eval digits it gets wrong with the highest confidence (true→predicted)"
                 if len(worst) else "no eval digit wrong", y=1)
