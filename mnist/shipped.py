"""The trained models that ship with the package, so that predicting and the app work before any
training: the lesson's classifier, the lesson's square-error model and the robust model.

Each is a parameters file in ``mnist/models/`` with a model card beside it (``NAME.json``: the
command that made it, the version and commit, the seed, its eval accuracy, its figures on the
picture sets, the date and the machine). ``benchmarks/remake_models.py`` remakes them. They are
read like any file from elsewhere: as data only (mnist/params.py). Training never writes here.

A command falls back to a shipped model only when the user named no model and has none of their
own at the default path; it then says so in one line (``fallback``).
"""

from __future__ import annotations

import json
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "models"
NAMES = ("lesson", "mse", "robust")
FALLBACK = "robust"  # the model for people's pictures and numbers


def path(name: str) -> Path:
    return FOLDER / f"{name}.pdparams"


def card(name: str) -> dict:
    """The model card of a shipped model."""
    return json.loads((FOLDER / f"{name}.json").read_text())


def available() -> dict[str, Path]:
    """The shipped models present in this installation, by name."""
    return {name: path(name) for name in NAMES if path(name).is_file()}


def describe(name: str) -> str:
    """A shipped model in a few words: its name and eval accuracy."""
    return (f"the {name} model shipped with the package "
            f"({100 * card(name)['eval_accuracy']:.2f}% on MNIST's eval split)")


def fallback(own: str | Path, given: bool, train: str) -> tuple[Path, str | None]:
    """The model to use: ``own`` when it was named on the command line or exists; else the
    shipped robust model, with the line that says so and names ``train``, the command that
    writes ``own`` (None when ``own`` is used)."""
    own = Path(own)
    if given or own.exists() or not path(FALLBACK).is_file():
        return own, None
    return path(FALLBACK), f"no {own}: using {describe(FALLBACK)}; train your own with `{train}`"
