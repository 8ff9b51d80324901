"""The app's lesson tab, "square error or cross-entropy": one drawing through the lesson's two
models side by side.

The square-error model has one output, a number placed on a 0-9 ruler and rounded to its
answer; the cross-entropy model has ten, turned into probabilities by softmax. With the true
digit picked, each shows its loss for it, (y - y_hat)^2 and -log p_y, and the ten raw outputs
stand beside their softmax as in the lesson's figure. Each chooser lists the kind of model it
needs first and labels every model with its output shape, read from the parameters file as
data; a model of the other kind gets a message saying which kind that side needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist.inference import ModelError
from mnist.losses import predicted_digits, softmax
from mnist.params import UnsafeFileError, load_params
from mnist.pictures import ImageError, open_image, preprocess_mnist

TITLE = "Square error or cross-entropy · 平方误差还是交叉熵"
# the command that trains a square-error model of one's own, and what it took (docs/results.md)
TRAIN_MSE = ("`python train.py --loss mse --seed 1 --save work/mse.pdparams` (76 s on a 2-core "
             "AMD EPYC; 55.95% of MNIST's eval digits right)")
NO_MSE = f"No square-error model in work/. Train one with {TRAIN_MSE}."


def pick_brush(sketch_id: str) -> str:
    """JavaScript that picks the brush of the sketchpad ``sketch_id`` once it is on the page
    (Gradio's sketchpad starts with no tool picked), trying for 10 s."""
    return """() => {
  const t = setInterval(() => {
    const b = document.querySelector('#%s button[aria-label="Brush"]');
    if (b) { b.click(); clearInterval(t); }
  }, 200);
  setTimeout(() => clearInterval(t), 10000);
}""" % sketch_id


def output_count(path: Path) -> int | None:
    """How many outputs the network in a parameters file has (1 or 10); None if unreadable."""
    try:
        return int(np.asarray(load_params(path)["fc.weight"]).shape[1])
    except (OSError, KeyError, IndexError, ValueError, UnsafeFileError):
        return None


def split_by_kind(models: dict[str, Path]) -> tuple[list[str], list[str]]:
    """The listed models' names: (square-error ones, with one output; cross-entropy ones, ten)."""
    counts = {name: output_count(path) for name, path in models.items()}
    return ([n for n, c in counts.items() if c == 1], [n for n, c in counts.items() if c == 10])


def choices(first: list[str], other: list[str], outputs: int) -> list[tuple[str, str]]:
    """A chooser's (label, name) pairs: the kind it needs first, then the other kind, each
    labelled with its output shape, so that picking the wrong kind gets a message."""
    shape = {1: "1 output", 10: "10 outputs"}
    return ([(f"{n} · {shape[outputs]}", n) for n in first] +
            [(f"{n} · {shape[11 - outputs]}", n) for n in other])


def ruler_html(value: float, answer: int) -> str:
    """The square-error model's one output as a mark on a 0-9 ruler, with its rounded answer."""
    x = lambda v: 20 + 44 * (min(max(v, -0.5), 9.5) + 0.5)  # noqa: E731  ruler position in px
    ticks = "".join(f'<line x1="{x(d)}" y1="30" x2="{x(d)}" y2="42" stroke="#555"/>'
                    f'<text x="{x(d)}" y="58" text-anchor="middle" font-size="14">{d}</text>'
                    for d in range(10))
    return (f'<div id="se-ruler"><b>Square error: answer {answer}</b> (output {value:.2f}, '
            f'rounded)<br><svg width="480" height="66" role="img" aria-label="a 0 to 9 ruler">'
            f'<line x1="{x(-0.5)}" y1="36" x2="{x(9.5)}" y2="36" stroke="#555"/>{ticks}'
            f'<polygon points="{x(value) - 8},10 {x(value) + 8},10 {x(value)},30" '
            f'fill="#d9480f"/></svg></div>')


def outputs_table_html(z: np.ndarray, p: np.ndarray) -> str:
    """The ten raw outputs beside their softmax, as in the lesson's figure."""
    rows = "".join(f"<tr><td>{d}</td><td>{z[d]:.2f}</td><td>{p[d]:.3f}</td></tr>"
                   for d in range(10))
    return ('<p>The cross-entropy model\'s raw outputs z and their softmax, '
            'p = exp(z) / Σ exp(z):</p><table id="ce-outputs"><tr><th>digit</th><th>z</th>'
            f"<th>p</th></tr>{rows}</table>")


def losses_markdown(truth: int, value: float, p: np.ndarray) -> str:
    se, ce = (truth - value) ** 2, -np.log(max(float(p[truth]), 1e-12))
    return (f"**Square error** (y − ŷ)² = ({truth} − {value:.2f})² = **{se:.3f}**  \n"
            f"**Cross-entropy** −log p<sub>{truth}</sub> = −log {p[truth]:.3f} = **{ce:.3f}**  \n"
            "The two live on different scales: compare answers, not loss values.")


def need(model, outputs: int, name: str):
    if model.num_outputs != outputs:
        kind = "one output (a square-error model)" if model.num_outputs == 1 else \
            f"{model.num_outputs} outputs (a cross-entropy model)"
        wanted = "one output, a square-error model" if outputs == 1 else \
            "ten outputs, a cross-entropy model"
        raise ModelError(f"{name} gives {kind}; this side needs {wanted}")
    return model


def compare(models, se_name, ce_name, image, truth):
    """(square-error answer as HTML, {digit: p}, the losses in Markdown, the outputs table)."""
    if not se_name or not ce_name:
        return "", None, NO_MSE if not se_name else "Choose a cross-entropy model.", ""
    if image is None:
        return "", None, "Draw a digit, or drop a picture in.", ""
    try:
        se = need(models.get(se_name), 1, se_name)
        ce = need(models.get(ce_name), 10, ce_name)
        inputs = preprocess_mnist(image)[None]
        with models.lock:
            value = float(se.outputs(inputs)[0, 0])
            z = np.asarray(ce.outputs(inputs)[0], np.float64)
    except (ImageError, ModelError) as exc:
        return "", None, f"Cannot compare there: {exc}.", ""
    p = softmax(z)
    answer = int(predicted_digits(np.array([[value]]))[0])
    message = (f"**Cross-entropy: answer {int(p.argmax())}** (p = {p.max():.2f})  \n" +
               (losses_markdown(int(truth), value, p) if truth not in (None, "") else
                "Pick the true digit to see each model's loss."))
    return (ruler_html(value, answer), {str(d): float(p[d]) for d in range(10)}, message,
            outputs_table_html(z, p))


def build_tab(gr, models, listed: dict[str, Path], sketch_to_image, brush) -> None:
    """The tab's components and events, inside an open ``gr.Blocks``; ``listed`` are the page's
    models by name, ``sketch_to_image`` reads the sketchpad, ``brush`` makes one like the first tab's."""
    se_names, ce_names = split_by_kind(listed)
    with gr.Tab(TITLE, elem_id="lesson-tab") as tab:
        gr.Markdown("The lesson's two models read the same drawing. The square-error model gives "
                    "one number, rounded to a digit; the cross-entropy model gives ten "
                    "probabilities. 课程里的两个模型读同一张图。")
        with gr.Row():
            with gr.Column():
                se_model = gr.Dropdown(choices(se_names, ce_names, 1),
                                       value=se_names[0] if se_names else None,
                                       label="square-error model (one output)", elem_id="se-model")
                ce_model = gr.Dropdown(choices(ce_names, se_names, 10),
                                       value=ce_names[0] if ce_names else None,
                                       label="cross-entropy model (ten outputs)",
                                       elem_id="ce-model")
                truth = gr.Radio([str(d) for d in range(10)], label="the true digit",
                                 elem_id="truth")
                sketch = gr.Sketchpad(type="numpy", image_mode="RGBA", canvas_size=(280, 280),
                                      brush=brush(), label="draw a digit", elem_id="lesson-sketch")
                upload = gr.File(label="or drop a picture here", file_types=["image"],
                                 type="filepath", elem_id="lesson-upload", height=120)
                if not any(not n.endswith("(shipped)") for n in se_names):
                    gr.Markdown(f"Your own square-error model: {TRAIN_MSE}.")
            with gr.Column():
                ruler = gr.HTML(elem_id="se-answer")
                message = gr.Markdown(NO_MSE if not se_names else "Draw a digit.",
                                      elem_id="losses")
                with gr.Row():
                    probs = gr.Label(num_top_classes=10, label="cross-entropy: ten probabilities",
                                     elem_id="ce-probs")
                    table = gr.HTML(elem_id="outputs")

        def on_change(se_name, ce_name, value, path, digit):
            image = sketch_to_image(value)
            if image is None and path:
                try:
                    image = open_image(path)
                except ImageError as exc:
                    return "", None, f"Cannot read that file: {exc}.", ""
            return compare(models, se_name, ce_name, image, digit)

        inputs = [se_model, ce_model, sketch, upload, truth]
        outputs = [ruler, probs, message, table]
        sketch.change(on_change, inputs, outputs, api_name="lesson_sketch", show_progress="hidden")
        upload.change(on_change, inputs, outputs, api_name="lesson_upload")
        for component in (truth, se_model, ce_model):
            component.change(on_change, inputs, outputs, api_name=False, show_progress="hidden")
        tab.select(None, js=pick_brush("lesson-sketch"))
    return None
