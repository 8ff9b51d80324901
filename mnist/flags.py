"""train.py's flags: the parser, the presets, and what a value may be.

``--preset NAME`` sets defaults and an explicit flag overrides its preset's value. The settings
that define a run (``RUN_SETTINGS``) go into the run's config.json; ``--resume`` takes them
from there and refuses a flag that would change them.
"""

from __future__ import annotations

import argparse
import math

from mnist.cli import DEFAULT_DATAFILE, DEFAULT_PARAMS, ROBUST_PARAMS, CliError, Parser
from mnist.losses import LOSSES
from mnist.model import CONVS

PROG = "train.py"
# Settings that define a run; --resume takes them from the run's config.json.
RUN_SETTINGS = ("preset", "loss", "epochs", "batch_size", "lr", "optimizer", "momentum",
                "weight_decay", "schedule", "warmup", "label_smoothing", "augment", "distort",
                "extra_digits", "not_digits", "validate", "seed", "limit", "log_interval", "datafile")
# What a setting was before it had a flag: a run directory written then has no such key.
SETTINGS_BEFORE = {"warmup": 0.25, "label_smoothing": 0.0, "extra_digits": 0, "not_digits": 0,
                   "validate": "epoch"}
# --preset NAME sets these defaults; a flag given explicitly overrides its preset's value.
PRESETS = {
    "lesson": {},  # the lesson's run: the parser's own defaults
    "robust": {    # for real pictures: the same network trained on distorted digits
        "optimizer": "momentum", "lr": 0.03, "schedule": "cosine", "weight_decay": 0.0005,
        "augment": 2, "distort": True, "epochs": 35, "extra_digits": 12000,
        "not_digits": 4000, "save": ROBUST_PARAMS,  # its own file: the lesson's model stays
    },
    "fast": {      # 99% in seconds, to experiment: one and a half passes, one-cycle Nesterov
        "optimizer": "nesterov", "lr": 0.2, "schedule": "onecycle", "label_smoothing": 0.05,
        "batch_size": 128, "epochs": 1.5, "validate": "end",
    },
}


# Flags that define a run: with --resume they come from its config.json, and giving one is an
# error (it would be silently ignored); --epochs alone may extend the run.
# --datafile may be named again if it is the run's own file.
FIXED_ON_RESUME = (set(RUN_SETTINGS) | {"run_dir"}) - {"epochs", "datafile"}


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Train the lesson's MNIST network.")
    p.add_argument("--preset", choices=sorted(PRESETS), default="lesson",
                   help="lesson (default: the lesson's settings), fast (to experiment: 99%% in "
                        "seconds; Nesterov momentum, one-cycle schedule, label smoothing, batch "
                        "128, 1.5 epochs, validation at the end) or robust (for real pictures: "
                        "momentum, cosine schedule, distorted digits, 12000 typed and drawn digits beside "
                        "MNIST's, 4000 pictures that are not one digit, 35 epochs); explicit "
                        "flags override the preset")
    p.add_argument("--loss", choices=sorted(LOSSES), default="cross_entropy",
                   help="cross_entropy (10 outputs, default) or mse (the lesson's 1-output "
                        "regression with square error)")
    p.add_argument("--epochs", type=epochs_value, default=10,
                   help="passes over the training set (10); a fraction ends the last one early "
                        "(1.5: one pass and half of a second)")
    p.add_argument("--batch-size", type=int, default=100, help="images per batch (100)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (0.01)")
    p.add_argument("--optimizer", choices=("sgd", "momentum", "nesterov", "adam"), default="sgd",
                   help="sgd (default), momentum, nesterov (momentum with Nesterov's "
                        "look-ahead) or adam")
    p.add_argument("--momentum", type=float, default=0.9,
                   help="momentum for --optimizer momentum and nesterov (0.9)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay (0)")
    p.add_argument("--schedule", choices=("constant", "cosine", "onecycle"), default="constant",
                   help="learning-rate schedule: constant (default), cosine decay to 0, or "
                        "onecycle (up from lr/25 to --lr over the --warmup share of the steps, "
                        "then a cosine down to lr/1000)")
    p.add_argument("--warmup", type=float, default=0.25, metavar="SHARE",
                   help="the share of the steps that --schedule onecycle rises over (0.25)")
    p.add_argument("--label-smoothing", type=float, default=0.0, metavar="EPS",
                   help="train against labels smoothed by EPS: 1-EPS on the digit, EPS spread "
                        "over all ten (0: off; cross-entropy only; the logged validation and "
                        "eval losses stay plain cross-entropy)")
    p.add_argument("--augment", type=int, default=0, metavar="PIXELS",
                   help="shift training images randomly by up to PIXELS pixels (0: off)")
    p.add_argument("--distort", action=argparse.BooleanOptionalAction, default=False,
                   help="distort training images at random: stroke thickness, rotation, scale, "
                        "shear, blur, contrast (shifts by up to --augment pixels)")
    p.add_argument("--extra-digits", type=int, default=0, metavar="N",
                   help="also train on N digits beyond MNIST: typed in the development set's "
                        "typefaces and matplotlib's, and drawn by the synthetic hand, prepared "
                        "as predict.py prepares a picture (0: MNIST only)")
    p.add_argument("--not-digits", type=int, default=0, metavar="N",
                   help="also train on N pictures that are not one digit (two touching digits "
                        "read as one, a digit cut through), toward equal probabilities for all "
                        "ten: predict.py --number then cuts touching digits where the network "
                        "is sure (0: none; cross-entropy only)")
    p.add_argument("--validate", choices=("epoch", "end"), default="epoch",
                   help="score the valid split after every epoch (default) or after the last "
                        "only (a checkpoint is still saved after every epoch)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed; the same seed gives the same loss log on CPU")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="train on the first N training images only (quick checks)")
    p.add_argument("--log-interval", type=int, default=200, metavar="B",
                   help="print the loss every B batches (200)")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="auto (default: the GPU where this Paddle has CUDA and sees one, else the "
                        "CPU), cpu or gpu")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for Paddle's kernels (default: the cores, shared among the "
                        "processes of a distributed launch)")
    p.add_argument("--conv", choices=CONVS, default="onednn",
                   help="onednn (default): each convolution block as one oneDNN operator, built "
                        "at first use (mnist/conv_block.py); paddle: Paddle's own ops, slower. "
                        "Both compute the same function")
    p.add_argument("--save", default=DEFAULT_PARAMS,
                   help=f"where to save the trained parameters ({DEFAULT_PARAMS}; "
                        f"{ROBUST_PARAMS} with --preset robust, which predict.py --number reads)")
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


def epochs_value(text: str) -> int | float:
    """--epochs: a whole number stays an int (the lesson's 10); 1.5 is one pass and a half."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return int(value) if value.is_integer() else value


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
    positive = {"batch-size": args.batch_size,
                "log-interval": args.log_interval, "threads": args.threads or 1}
    for name, value in positive.items():
        if value < 1:
            raise CliError(f"--{name} must be at least 1, not {value}")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        raise CliError(f"--lr must be a positive number, not {args.lr}")
    for name in ("extra_digits", "not_digits"):
        if getattr(args, name) < 0:
            raise CliError(f"--{name.replace('_', '-')} must be 0 or more, not "
                           f"{getattr(args, name)}")
    if args.limit is not None and args.limit < args.batch_size:
        raise CliError(f"--limit {args.limit} is smaller than one batch ({args.batch_size})")
    if args.augment < 0 or args.weight_decay < 0 or not 0 <= args.momentum < 1:
        raise CliError("--augment and --weight-decay must be >= 0 and --momentum in [0, 1)")
    if not (0 < args.warmup < 1 and 0 <= args.label_smoothing < 1):
        raise CliError("--warmup must be in (0, 1) and --label-smoothing in [0, 1)")
    if args.label_smoothing and args.loss != "cross_entropy":
        raise CliError(f"--label-smoothing smooths cross-entropy's labels; --loss {args.loss} "
                       "has none (with --preset fast, give --label-smoothing 0)")
    if args.not_digits and args.loss != "cross_entropy":
        raise CliError(f"--not-digits trains ten probabilities toward 1/10; --loss {args.loss} "
                       "has one output (with --preset robust, give --not-digits 0)")


def check_settings(settings: dict, where: str) -> None:
    """A run's recorded settings (its config.json, which --resume continues from), checked as
    its flags are: each of the kind and among the choices its flag takes, then check_args's
    ranges. A CliError names ``where`` and the setting; a file from elsewhere never gets further
    with a value its flag would have refused."""
    parser = build_parser()
    defaults = parser.parse_args([])
    actions = {a.dest: a for a in parser._actions}
    for key in RUN_SETTINGS:
        if key not in settings:
            raise CliError(f"{where}: no {key!r} setting")
        value, default = settings[key], getattr(defaults, key)
        if isinstance(default, bool):
            kinds = (bool,)
        elif key == "epochs" or isinstance(default, float):
            kinds = (int, float)
        elif default is None or isinstance(default, int):
            kinds = (int, type(None)) if default is None else (int,)
        else:
            kinds = (type(default),)
        bad_kind = not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
        if bad_kind or (actions[key].choices and value not in actions[key].choices):
            raise CliError(f"{where}: {key} is {value!r}, not a value --{key.replace('_', '-')} "
                           "takes")
    try:
        check_args(argparse.Namespace(**{**vars(defaults), **{k: settings[k] for k in RUN_SETTINGS}}))
    except CliError as exc:
        raise CliError(f"{where}: {exc}") from exc
    if not settings["epochs"] > 0:
        raise CliError(f"{where}: epochs must be more than 0, not {settings['epochs']}")
