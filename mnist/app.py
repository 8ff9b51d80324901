"""``python app.py``: a local web page to draw a digit and watch the model think, and to look
at training runs. Built with Gradio (``pip install -e ".[app]"``).

Try a digit: draw on the sketchpad or drop a picture in; the page shows the predicted digit,
the ten probabilities and the 28x28 input the network received (the same preprocessing as
``predict.py``). Read "a number" instead, and it shows the number, the picture with each
digit's box, and each digit's input and probabilities (as ``predict.py --number``). Look at a
run: its report (``mnist/report.py``): loss and accuracy curves, confusion matrix, per-digit
accuracy and its most confident mistakes.

Only the parameter files and run directories found under the folders the server was given can
be chosen: the page sends a name from the lists, never a path.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mnist import cli, lessontab, shipped
from mnist.cli import DEFAULT_DATAFILE, DEFAULT_PARAMS, DEFAULT_RUNS, DEFAULT_WORK, CliError, Parser
from mnist.cpu import keep_freed_memory
from mnist.inference import ModelError, load_predictor, probabilities
from mnist.losses import predicted_digits
from mnist.numbers import WORK_SIZE, boxes_picture, number_of, read_number
from mnist.pictures import ImageError, input_picture, open_image, preprocess_mnist
from mnist.rundir import MODEL, REPORT, RunDir

MAX_UPLOAD = "20mb"
RUNS = Path(DEFAULT_RUNS).name  # the app lists WORK/runs
SHOW = 8  # the 28x28 input is shown 8 times larger
DIGIT, NUMBER = "one digit", "a number"  # what the page reads
SHIPPED = "(shipped)"  # the mark of a model that came with the package
NO_MODEL = f"No trained model found. Train one with `python train.py` (it writes {DEFAULT_PARAMS})."


# ----------------------------------------------------------------------------------------------
# What the page can choose from
# ----------------------------------------------------------------------------------------------

def find_models(work: Path) -> dict[str, Path]:
    """Parameter files in ``work`` and the models of the run directories in ``work/runs``,
    by the name the page shows, ``mnist.pdparams`` first; then the models shipped with the
    package, marked as such."""
    found = {}
    default = Path(DEFAULT_PARAMS).name
    if (work / default).is_file():
        found[default] = work / default
    for p in sorted(work.glob("*.pdparams")):
        found.setdefault(p.name, p)
    for p in sorted((work / RUNS).glob(f"*/{MODEL}")):
        found[f"{RUNS}/{p.parent.name}"] = p
    for name in sorted(shipped.available(), key=lambda n: n != shipped.FALLBACK):
        found[f"{name} {SHIPPED}"] = shipped.path(name)  # after the user's own, robust first
    return found


def find_runs(work: Path) -> dict[str, Path]:
    """Run directories in ``work/runs`` that have a loss log, newest name last."""
    return {p.name: p for p in sorted((work / RUNS).glob("*")) if RunDir(p).is_run()}


class Models:
    """Each chosen parameter file is loaded once; loading and predicting are serialised (a
    prediction takes about 2 ms; Paddle's eager mode is not made to run from many threads)."""

    def __init__(self, work: Path):
        self.work = work
        self.loaded: dict[Path, object] = {}
        self.lock = threading.Lock()

    def get(self, name: str):
        path = find_models(self.work).get(name)
        if path is None:  # not one of the listed files: never a path from the page
            raise ModelError(f"unknown model {name!r}; choose one from the list")
        with self.lock:
            if path not in self.loaded:
                self.loaded[path] = load_predictor(path)
            return self.loaded[path]


# ----------------------------------------------------------------------------------------------
# Try a digit
# ----------------------------------------------------------------------------------------------

def sketch_to_image(value) -> Image.Image | None:
    """The sketchpad's drawing as a picture (None when nothing was drawn)."""
    if value is None:
        return None
    composite = value.get("composite") if isinstance(value, dict) else value
    if composite is None:
        return None
    array = np.asarray(composite)
    if array.ndim == 3 and array.shape[2] == 4 and array[..., 3].max() == 0:
        return None  # fully transparent: an empty canvas
    return Image.fromarray(array.astype(np.uint8))


def png_html(picture: Image.Image, alt: str) -> str:
    """A picture as an <img> (a PNG in a data URL). Inline, so that no file is cached on the
    server: Gradio's file cache raced when two requests made the same picture at once (one
    client read it while another rewrote it)."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img alt="{alt}" width="{picture.width}" height="{picture.height}" '
            f'src="data:image/png;base64,{data}">')


def input_html(array: np.ndarray, scale: int = SHOW) -> str:
    """The 28x28 input as an <img>, scaled up ``scale`` times."""
    return png_html(input_picture(array, scale), "the network's 28x28 input")


def number_html(image: Image.Image, digits) -> str:
    """The picture with the digits' boxes, then each digit's input and its likeliest readings."""
    boxes = boxes_picture(image, digits)
    boxes.thumbnail((560, 400))
    cells = []
    for d in digits:
        top = np.argsort(-d.probabilities)[:3]
        text = "<br>".join(f"{k}: {d.probabilities[k]:.2f}" for k in top)
        cells.append(f'<figure class="digit">{input_html(d.input[0], 3)}'
                     f'<figcaption>{text}</figcaption></figure>')
    return (f'<div id="boxes">{png_html(boxes, "the picture with the digits found")}</div>'
            f'<div style="display:flex;gap:8px;flex-wrap:wrap">{"".join(cells)}</div>')


def predict_image(models: Models, model_name: str, image: Image.Image | None, mode: str = DIGIT):
    """(message in Markdown, {digit: probability}, the 28x28 input scaled up) for one picture;
    for a number, (message, None, the boxes and each digit's input)."""
    if not model_name:
        return NO_MODEL, None, None
    if image is None:
        return f"Draw {'a number' if mode == NUMBER else 'a digit'}, or drop a picture in.", None, None
    try:
        model = models.get(model_name)
        if mode == NUMBER:
            return predict_number(models, model, image)
        inputs = preprocess_mnist(image)[None]
        with models.lock:
            out = probabilities(model.outputs(inputs))[0]
    except (ImageError, ModelError) as exc:
        return f"Cannot read {'a number' if mode == NUMBER else 'a digit'} there: {exc}.", None, None
    seen = input_html(inputs[0, 0])
    digit = int(predicted_digits(out[None])[0])
    if len(out) == 1:  # a square-error model: one value, not probabilities
        return f"## Prediction: {digit}\n(value {out[0]:.2f})", None, seen
    return (f"## Prediction: {digit}\n(p = {out[digit]:.2f})",
            {str(d): float(p) for d, p in enumerate(out)}, seen)


def predict_number(models: Models, model, image: Image.Image):
    if model.num_outputs != 10:
        raise ModelError("a square-error model gives no probabilities to read a number with")

    def classify(inputs):
        with models.lock:
            return probabilities(model.outputs(inputs))

    digits = read_number(image, classify)
    number, p = number_of(digits)
    return (f"## Number: {number}\n(p = {p:.2f}, {len(digits)} digit{'s' * (len(digits) > 1)})",
            None, number_html(image, digits))


def predict_upload(models: Models, model_name: str, path, mode: str = DIGIT):
    if path is None:
        return "Drop a picture in.", None, None
    try:
        image = open_image(path, WORK_SIZE) if mode == NUMBER else open_image(path)
    except ImageError as exc:
        return f"Cannot read that file: {exc}.", None, None
    except MemoryError:
        return "Cannot read that file: too large to decode in memory.", None, None
    return predict_image(models, model_name, image, mode)


# ----------------------------------------------------------------------------------------------
# Look at a run
# ----------------------------------------------------------------------------------------------

def run_report(work: Path, datafile: str, name: str):
    """(message, report picture) of a listed run; the report is made if missing or stale."""
    from mnist.report import write_report

    path = find_runs(work).get(name)
    if path is None:
        return f"Unknown run {name!r}; choose one from the list.", None
    run = RunDir(path)
    if not run.has_model():
        return f"Run {name} has no model yet (still training, or stopped early).", None
    report = run / REPORT
    try:
        if not report.is_file() or report.stat().st_mtime < (run / MODEL).stat().st_mtime:
            write_report(path, datafile)
        text = f"### {name}"
        s = run.summary()
        if s:
            text += (f"\neval accuracy **{s.get('eval_accuracy', 0):.2%}**, "
                     f"{s.get('epochs')} epochs, {s.get('wall_time_s', 0):.0f} s")
        return text, Image.open(report).copy()
    except Exception as exc:  # a damaged run directory must not break the page
        return f"Cannot make the report of {name}: {exc.__class__.__name__}: {exc}", None


# ----------------------------------------------------------------------------------------------
# The page
# ----------------------------------------------------------------------------------------------

def build_app(work: Path, datafile: str):
    import gradio as gr

    models = Models(work)
    listed = find_models(work)
    names = list(listed)
    runs = list(find_runs(work))
    with gr.Blocks(title="paddle-mnist") as page:
        gr.Markdown("# paddle-mnist: draw a digit and watch the model think")
        with gr.Tab("Try a digit"):
            with gr.Row():
                with gr.Column():
                    model = gr.Dropdown(names, value=names[0] if names else None,
                                        label="model", elem_id="model")
                    mode = gr.Radio([DIGIT, NUMBER], value=DIGIT, label="read",
                                    elem_id="mode")
                    sketch = gr.Sketchpad(type="numpy", image_mode="RGBA", canvas_size=(560, 280),
                                          brush=gr.Brush(default_size=18, colors=["#000000"],
                                                         color_mode="fixed"),
                                          label="draw a digit or a number", elem_id="sketch")
                    upload = gr.File(label="or drop a picture here", file_types=["image"],
                                     type="filepath", elem_id="upload")
                with gr.Column():
                    message = gr.Markdown(NO_MODEL if not names else "Draw a digit.",
                                          elem_id="message")
                    probs = gr.Label(num_top_classes=10, label="probabilities", elem_id="probs")
                    gr.Markdown("What the network sees (its 28x28 input; for a number, each "
                                "digit's):")
                    seen = gr.HTML(elem_id="seen")

            def on_sketch(name, value, how):
                return predict_image(models, name, sketch_to_image(value), how)

            def on_upload(name, path, how):
                return predict_upload(models, name, path, how)

            def on_mode(name, how, value, path):  # read again what is there
                if sketch_to_image(value) is None and path:
                    return predict_upload(models, name, path, how)
                return predict_image(models, name, sketch_to_image(value), how)

            sketch.change(on_sketch, [model, sketch, mode], [message, probs, seen],
                          api_name="predict_sketch", show_progress="hidden")
            upload.change(on_upload, [model, upload, mode], [message, probs, seen],
                          api_name="predict_upload")
            mode.change(on_mode, [model, mode, sketch, upload], [message, probs, seen],
                        api_name=False)
        lessontab.build_tab(gr, models, listed, sketch_to_image, brush=lambda: gr.Brush(
            default_size=18, colors=["#000000"], color_mode="fixed"))
        with gr.Tab("Look at a run"):
            run = gr.Dropdown(runs, value=None, label="run", elem_id="run")
            run_message = gr.Markdown("Choose a run." if runs else
                                      "No runs yet: `python train.py` writes one in work/runs/.",
                                      elem_id="run-message")
            report = gr.Image(label="report", type="pil", elem_id="report", interactive=False)
            run.change(lambda name: run_report(work, datafile, name) if name else
                       ("Choose a run.", None), [run], [run_message, report], api_name="run_report")
    return page


def build_parser():
    p = Parser(prog="app.py", description="A local web app: draw a digit, look at runs.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (7860)")
    p.add_argument("--work", default=DEFAULT_WORK,
                   help="folder with parameter files and runs/ (work)")
    p.add_argument("--datafile", default=DEFAULT_DATAFILE,
                   help="the lesson's data file, for the runs' reports")
    return p


def main(argv=None) -> int:
    return cli.run("app.py", serve, argv)


def serve(argv) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()  # as predict.py: the picture steps' temporaries reused
    try:
        import gradio  # noqa: F401
    except ImportError as exc:
        raise CliError('the web app needs Gradio: pip install -e ".[app]"') from exc
    work = Path(args.work)
    page = build_app(work, args.datafile)
    print(f"paddle-mnist app on http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
    try:
        page.queue(default_concurrency_limit=4).launch(
            server_name=args.host, server_port=args.port, max_file_size=MAX_UPLOAD,
            quiet=True, prevent_thread_lock=True, show_error=False,
            js=lessontab.pick_brush("sketch"))  # on load: a learner can draw at once
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        page.close()
    return 0
