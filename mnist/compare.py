"""``python compare.py RUN [RUN ...]``: training runs side by side, as a picture and a table.

Square error and cross-entropy live on different scales, so their loss values say nothing about
which model is better: the accuracy decides. The picture shows the training loss of every run
against epochs on a log axis (so that both kinds are readable) and the validation accuracy per
epoch; the table gives the final figures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mnist import cli
from mnist.cli import CliError, Parser
from mnist.files import atomic_write
from mnist.runlog import Run, read_run

FORMATS = {".png", ".svg", ".pdf"}


def smooth(values: list[float], window: int) -> np.ndarray:
    """Moving average over ``window`` points (shorter at the start)."""
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(v) < 2:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def table_rows(runs: list[Run]) -> list[dict]:
    rows = []
    for run in runs:
        accs = [a for _e, a in run.valid_accuracy]
        rows.append({"run": run.name, "source": run.source, "loss": run.loss,
                     "epochs": run.num_epochs, "final_loss": run.final_loss(),
                     "best_valid_accuracy": max(accs) if accs else None,
                     "final_valid_accuracy": accs[-1] if accs else None,
                     "eval_accuracy": run.eval_accuracy, "wall_time_s": run.wall_time_s})
    return rows


def format_table(rows: list[dict]) -> str:
    def pct(v):
        return f"{100 * v:.2f}%" if v is not None else "-"

    header = ["run", "loss", "epochs", "final loss", "best valid", "final valid", "eval",
              "wall time"]
    body = [[r["run"], r["loss"] or "?", str(r["epochs"]), f"{r['final_loss']:.4g}",
             pct(r["best_valid_accuracy"]), pct(r["final_valid_accuracy"]),
             pct(r["eval_accuracy"]),
             f"{r['wall_time_s']:.0f} s" if r["wall_time_s"] is not None else "-"]
            for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


def draw_curves(runs: list[Run], loss_ax, acc_ax, window: int = 1) -> None:
    """The training loss of each run (log scale) on ``loss_ax``, its validation accuracy per
    epoch on ``acc_ax`` (None: left out)."""
    for run in runs:
        label = f"{run.name} ({run.loss})" if run.loss else run.name
        (line,) = loss_ax.plot(run.epochs, smooth(run.losses, window), label=label, linewidth=1.2)
        line.set_gid(f"loss: {run.name}")  # an id in .svg output: one curve per run, checkable
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss (log scale)" + (f", mean of {window} batches" if window > 1 else ""))
    loss_ax.set_title("training loss: scales differ by loss, compare shapes only")
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
    acc_ax.set_title("validation accuracy: this decides")
    acc_ax.grid(True, alpha=0.3)
    acc_ax.legend()


def plot(runs: list[Run], out: Path, window: int, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    with_acc = any(r.valid_accuracy for r in runs)
    fig, axes = plt.subplots(1, 2 if with_acc else 1, figsize=(12 if with_acc else 7, 4.5),
                             squeeze=False)
    draw_curves(runs, axes[0][0], axes[0][1] if with_acc else None, window)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(out) as f:
        fig.savefig(f, format=out.suffix[1:], dpi=110)
    plt.close(fig)


def unique_names(runs: list[Run]) -> None:
    seen: dict[str, int] = {}
    for run in runs:
        n = seen.get(run.name, 0)
        seen[run.name] = n + 1
        if n:
            run.name = f"{run.name} ({n + 1})"


def compare(argv) -> int:
    parser = Parser(
        prog="compare.py", description="Compare training runs: loss curves, accuracy, a table.")
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="run directories of train.py, or text logs in the lesson's format")
    parser.add_argument("--out", default="work/compare.png",
                        help="the picture to write: .png, .svg or .pdf (work/compare.png)")
    parser.add_argument("--smooth", type=int, default=1, metavar="N",
                        help="plot the mean of the last N losses (1: raw)")
    parser.add_argument("--batches-per-epoch", type=int, default=None, metavar="N",
                        help="for text logs: batches in one epoch (default: guessed from the log)")
    parser.add_argument("--title", default="square error vs cross-entropy on MNIST")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise CliError(f"--out {out}: use a .png, .svg or .pdf file")
    if args.smooth < 1:
        raise CliError("--smooth must be at least 1")
    runs = [read_run(source, args.batches_per_epoch) for source in args.runs]
    unique_names(runs)
    try:
        plot(runs, out, args.smooth, args.title)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from exc
    rows = table_rows(runs)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
        print(f"\nwrote {out}")
    return 0


def main(argv=None) -> int:
    return cli.run("compare.py", compare, argv)


if __name__ == "__main__":
    sys.exit(main())
