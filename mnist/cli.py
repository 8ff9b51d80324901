"""One error convention for every entry point (train, predict, compare, export, app, data).

A problem the user can fix raises ``CliError`` (or a subclass) with a one-line message; ``run``
turns it into ``prog: error: message`` on stderr and the error's exit code. ``Parser`` is
argparse without abbreviations, whose errors are ``CliError`` too. Nothing here imports Paddle.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Where things go unless a flag says otherwise, for every command.
DEFAULT_DATAFILE = "work/mnist.json.gz"   # the lesson's data file
DEFAULT_PARAMS = "work/mnist.pdparams"    # the trained parameters
ROBUST_PARAMS = "work/robust.pdparams"    # --preset robust's, read by predict.py --number
DEFAULT_RUNS = "work/runs"                # run directories
DEFAULT_EXPORT = "work/export"            # export.py's models
DEFAULT_WORK = "work"                     # what the app lists


class CliError(Exception):
    """A one-line message for the user; ``code`` is the exit code (2: fix the input)."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse with ``allow_abbrev=False`` whose errors are one line (a CliError), not a
    usage block."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise CliError(f"{message} (see --help)")


def explicit_flags(parser: argparse.ArgumentParser, argv) -> set[str]:
    """The destinations of the options given on the command line (not left at a default)."""
    saved = [(a, a.default) for a in parser._actions]
    try:
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        return set(vars(parser.parse_known_args(argv, argparse.Namespace())[0]))
    finally:
        for action, default in saved:
            action.default = default


def check_writable(path, flag: str) -> None:
    """Fail before any work when ``path`` cannot be written as a file: it is a folder, or a
    part of the way to it is a file, or the folder it would go in is not writable."""
    path = Path(path)
    if path.is_dir():
        raise CliError(f"{flag} {path} is a folder; name a file in it, e.g. "
                       f"{flag} {path / 'mnist.pdparams'}")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise CliError(f"{flag} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CliError(f"{flag} {path}: the folder {folder} is not writable")


def error(prog: str, message: str) -> None:
    """The one form of an error line: ``prog: error: message`` on stderr."""
    print(f"{prog}: error: {message}", file=sys.stderr)


def run(prog: str, body, argv=None) -> int:
    """``body(argv)`` -> exit code, with CliError, a file that cannot be read or written
    (OSError: the disk, permissions) and Ctrl-C reported in one line."""
    try:
        return body(argv)
    except CliError as exc:
        error(prog, str(exc))
        return exc.code
    except OSError as exc:
        error(prog, str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
