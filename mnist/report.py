"""A run's report, one picture: how it trained and what it gets wrong on the eval split.

    loss curve and validation accuracy (the figure of compare.py)
    confusion matrix on the eval split | accuracy per digit
    the eval digits it gets wrong with the highest confidence (true label, predicted, p)

``train.py`` writes it as ``report.png`` in every run directory at the end of the run; the web
app shows it. ``python -m mnist.report RUN_DIR`` writes it for an existing run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mnist.files import atomic_write
from mnist.losses import predicted_digits

MISTAKES = 24  # the most confident mistakes shown


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mnist.compare import draw_curves

    digits = predicted_digits(outputs)
    counts = confusion(labels, digits)
    fig = plt.figure(figsize=(14, 11))
    grid = fig.add_gridspec(3, 4, height_ratios=[1, 1.1, 1.1])
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
    ax.set_title(f"confusion matrix, eval split ({np.mean(digits == labels):.2%} right)")

    ax = fig.add_subplot(grid[1, 2:])
    per_digit = counts.diagonal() / np.maximum(counts.sum(axis=1), 1)
    bars = ax.bar(range(10), 100 * per_digit, color="tab:blue")
    ax.bar_label(bars, labels=[f"{100 * a:.1f}" for a in per_digit], fontsize=8)
    ax.set_ylim(max(0, 100 * per_digit.min() - 5), 100.5)
    ax.set_xticks(range(10))
    ax.set_xlabel("true digit")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy per digit, eval split")

    worst = worst_mistakes(outputs, labels)
    caption = fig.add_subplot(grid[2, :])
    caption.axis("off")
    caption.set_title("the eval digits it gets wrong with the highest confidence "
                      "(true→predicted)", pad=18)
    sub = grid[2, :].subgridspec(2, MISTAKES // 2)
    for i in range(MISTAKES):
        ax = fig.add_subplot(sub[i // (MISTAKES // 2), i % (MISTAKES // 2)])
        ax.axis("off")
        if i < len(worst):
            j = worst[i]
            ax.imshow(images[j, 0], cmap="gray_r", vmin=0, vmax=1)
            conf = (f"p={outputs[j, digits[j]]:.2f}" if outputs.shape[-1] > 1
                    else f"v={outputs[j, 0]:.1f}")
            ax.set_title(f"{labels[j]}→{digits[j]}\n{conf}", fontsize=8)
    fig.suptitle(f"run {run.name}" + (f" ({run.loss})" if run.loss else ""), fontsize=13)
    fig.tight_layout()
    return fig


def write_report(run_dir, datafile, model=None) -> Path:
    """Write ``run_dir/report.png`` (atomically) from the run's logs and its model on the eval
    split; ``model``: a Predictor or network (default: the run's model.pdparams)."""
    import matplotlib.pyplot as plt

    from mnist.data import load_split
    from mnist.prediction import predict_arrays
    from mnist.predictors import load_predictor
    from mnist.runlog import read_run_dir

    run_dir = Path(run_dir)
    run = read_run_dir(run_dir)
    images, labels = load_split("eval", datafile)
    model = model if model is not None else load_predictor(run_dir / "model.pdparams")
    outputs = predict_arrays(model, images)
    fig = report_figure(run, images, labels, outputs)
    out = run_dir / "report.png"
    with atomic_write(out) as f:
        fig.savefig(f, format="png", dpi=80)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mnist.report", allow_abbrev=False,
                                description="Write a run directory's report.png.")
    p.add_argument("run_dir")
    p.add_argument("--datafile", default="work/mnist.json.gz")
    args = p.parse_args(argv)
    try:
        print(write_report(args.run_dir, args.datafile))
    except Exception as exc:  # a run directory that is not one, or has no model yet
        print(f"report: error: {args.run_dir}: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
