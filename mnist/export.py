"""``python export.py``: the trained network as a Paddle inference model and as ONNX.

Writes, under ``--out`` (default ``work/export/``):

    mnist.json, mnist.pdiparams   the Paddle inference model (``paddle.jit.save``, any batch
                                  size), run by ``paddle.inference``
    mnist.onnx                    the same network as ONNX (``paddle2onnx``), run by ONNX
                                  Runtime anywhere, without Paddle

then checks both against the eager network on real eval digits (largest difference of the
outputs, and the same digit for every one). Everything is written into a temporary folder
beside ``--out`` and renamed into place at the end, so a failed export leaves nothing half-made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from mnist import cli, shipped
from mnist.cli import DEFAULT_DATAFILE, DEFAULT_EXPORT, DEFAULT_PARAMS, EXIT_FAILED, CliError, Parser
from mnist.inference import EXPORT_NAME

TOLERANCE = 1e-4
ONNX_HINT = 'pip install -e ".[onnx]" (paddle2onnx and onnxruntime)'


def build_parser() -> Parser:
    p = Parser(prog="export.py", description="Export the trained network for deployment.")
    p.add_argument("--params", default=None,
                   help=f"parameters written by train.py ({DEFAULT_PARAMS}; without that file, "
                        "the robust model shipped with the package), either loss")
    p.add_argument("--out", default=DEFAULT_EXPORT, help=f"the folder to write ({DEFAULT_EXPORT})")
    p.add_argument("--check", type=int, default=1000, metavar="N",
                   help="compare the exported models with the eager one on N eval digits (1000)")
    p.add_argument("--opset", type=int, default=11, help="ONNX opset version (11)")
    p.add_argument("--datafile", default=DEFAULT_DATAFILE,
                   help="the lesson's data file, for the check (built if missing)")
    p.add_argument("--mnist-dir", default=None, help="folder with the official MNIST files")
    return p


@contextlib.contextmanager
def quiet_fds():
    """Silence what C++ libraries print on stdout and stderr (paddle2onnx's progress lines)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import paddle2onnx  # noqa: F401
    except ImportError:
        return False
    return True


def write_models(model, folder: Path, opset: int, with_onnx: bool) -> list[Path]:
    """The inference model (and ONNX) of ``model`` in ``folder``; the files written."""
    import paddle
    from paddle.static import InputSpec

    prefix = folder / EXPORT_NAME
    spec = [InputSpec([None, 1, 28, 28], "float32", "image")]
    with quiet_fds():
        paddle.jit.save(model, str(prefix), input_spec=spec)
    written = [prefix.with_suffix(".json"), prefix.with_suffix(".pdiparams")]
    if with_onnx:
        import paddle2onnx

        onnx_file = prefix.with_suffix(".onnx")
        with quiet_fds():  # constant folding is left to ONNX Runtime (no polygraphy)
            paddle2onnx.export(str(written[0]), str(written[1]), str(onnx_file),
                               opset_version=opset, enable_optimize=False)
        if not onnx_file.is_file():
            raise CliError("paddle2onnx wrote no ONNX file", EXIT_FAILED)
        written.append(onnx_file)
    return written


def check(model, files: list[Path], images: np.ndarray) -> list[str]:
    """Compare each exported model with the eager one; a line per model, or CliError."""
    from mnist.inference import EagerPredictor, load_predictor
    from mnist.losses import predicted_digits

    reference = EagerPredictor(model).outputs(images)
    lines = []
    for path in files:
        if path.suffix == ".pdiparams":
            continue
        out = load_predictor(path).outputs(images)
        diff = float(np.abs(out - reference).max())
        same = int((predicted_digits(out) == predicted_digits(reference)).sum())
        lines.append(f"  {path.name}: largest difference {diff:.1e}, same digit for "
                     f"{same}/{len(images)}")
        if diff > TOLERANCE or same != len(images):
            raise CliError(f"the exported {path.name} does not match the eager network "
                              f"(largest difference {diff:.1e}, same digit for {same}/"
                              f"{len(images)}); nothing was written", EXIT_FAILED)
    return lines


def replace_folder(new: Path, out: Path) -> None:
    """Put ``new`` where ``out`` is, an old ``out`` going only once the new one is in place."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(new, out)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def export(args) -> int:
    from mnist.data import DataError, build_datafile, load_split
    from mnist.inference import load_model
    from mnist.params import UnsafeFileError

    params, note = shipped.fallback(args.params or DEFAULT_PARAMS, args.params is not None,
                                    "python train.py")
    if note:
        print(f"export.py: {note}", file=sys.stderr)
    out = Path(args.out)
    if not params.is_file():
        raise CliError(f"no trained parameters at {params}; train a model first with "
                          f"`python train.py` (or pass --params PATH)")
    try:
        model = load_model(params)
    except UnsafeFileError:
        raise
    except Exception as exc:
        raise CliError(f"cannot load {params} as this network's parameters "
                          f"({exc.__class__.__name__})") from exc
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(work, 0o777 & ~umask)  # mkdtemp makes 0700; give the folder the usual mode
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from exc
    try:
        with_onnx = onnx_available()
        files = write_models(model, work, args.opset, with_onnx)
        try:
            build_datafile(args.datafile, args.mnist_dir)
            images = load_split("eval", args.datafile)[0][:args.check]
        except DataError as exc:
            raise CliError(f"the check needs the eval digits: {exc}") from exc
        lines = check(model, files, images)
        replace_folder(work, out)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}", EXIT_FAILED) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"exported {params} to {out}/:")
    for f in files:
        print(f"  {out / f.name} ({(out / f.name).stat().st_size} bytes)")
    print(f"checked against the eager network on {len(images)} eval digits:")
    print("\n".join(lines))
    if not with_onnx:
        print(f"no ONNX model: paddle2onnx or onnxruntime is not installed; {ONNX_HINT}")
    return 0


def main(argv=None) -> int:
    def body(argv):
        args = build_parser().parse_args(argv)
        if args.check < 1:
            raise CliError("--check must be at least 1")
        return export(args)

    return cli.run("export.py", body, argv)
