"""A run's report, one picture: how it trained and what it gets wrong on the eval split.

    loss curve and validation accuracy (the figure of compare.py)
    confusion matrix on the eval split | accuracy per digit
    the eval digits it gets wrong with the highest confidence (true label, predicted, p)

``train.py`` writes it as ``report.png`` in every run directory at the end of the run; the web
app shows it. ``python -m mnist.report RUN_DIR`` writes it for an existing run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mnist import cli, plots
from mnist.cli import DEFAULT_DATAFILE, CliError, Parser
from mnist.rundir import MODEL, REPORT, RunDir


def write_report(run_dir, datafile, model=None, scored=None) -> Path:
    """Write ``run_dir/report.png`` (atomically) from the run's logs and its model on the eval
    split; ``model``: a Predictor or network (default: the run's model.pdparams), or
    ``scored``: (images, labels, the model's outputs) of the whole eval split, already
    computed (train.py's)."""
    from mnist.data import load_split
    from mnist.inference import load_predictor, predict_arrays, probabilities
    from mnist.runlog import read_run

    run_dir = Path(run_dir)
    run = read_run(str(run_dir))  # RunLogError (one line) for what is not a run directory
    if scored is None:
        images, labels = load_split("eval", datafile)
        model = model if model is not None else load_predictor(run_dir / MODEL)
        outputs = predict_arrays(model, images)
    else:
        images, labels, outputs = scored[0], scored[1], probabilities(scored[2])
    out = run_dir / REPORT
    plots.save(plots.report_figure(run, images, labels, outputs), out, dpi=80)
    return out


def build_parser() -> Parser:
    p = Parser(prog="python -m mnist.report", description="Write a run directory's report.png.")
    p.add_argument("run_dir", help="a run directory of train.py")
    p.add_argument("--datafile", default=DEFAULT_DATAFILE,
                   help=f"the lesson's data file, for the eval split ({DEFAULT_DATAFILE})")
    return p


def report(argv) -> int:
    args = build_parser().parse_args(argv)
    run = RunDir(Path(args.run_dir))
    if run.is_run() and not run.has_model():
        raise CliError(f"{args.run_dir}: no {MODEL} yet (the run has not finished)")
    print(write_report(args.run_dir, args.datafile))
    return 0


def main(argv=None) -> int:
    return cli.run("python -m mnist.report", report, argv)


if __name__ == "__main__":
    from mnist.runtime import launch

    sys.exit(launch("python -m mnist.report", "mnist.report"))
