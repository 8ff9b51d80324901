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

from mnist import cli, plots
from mnist.cli import CliError, Parser
from mnist.runlog import Run, read_run

FORMATS = {".png", ".svg", ".pdf"}


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


def unique_names(runs: list[Run]) -> None:
    seen: dict[str, int] = {}
    for run in runs:
        n = seen.get(run.name, 0)
        seen[run.name] = n + 1
        if n:
            run.name = f"{run.name} ({n + 1})"


def build_parser() -> Parser:
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
    return parser


def compare(argv) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise CliError(f"--out {out}: use a .png, .svg or .pdf file")
    if args.smooth < 1:
        raise CliError("--smooth must be at least 1")
    runs = [read_run(source, args.batches_per_epoch) for source in args.runs]
    unique_names(runs)
    try:
        plots.save(plots.comparison_figure(runs, args.smooth, args.title), out, dpi=110)
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
