"""The inference core: a trained network, whatever form it was saved in, run on arrays.

Everything that predicts goes through here: ``predict.py`` (mnist/prediction.py), the web app,
``export.py``'s check and the run report.

* ``.pdparams``: the parameters ``train.py`` saves, run by the eager ``mnist.model.MNIST``;
* an exported Paddle inference model (``mnist.json`` + ``mnist.pdiparams`` from ``export.py``,
  or the folder holding them), run by ``paddle.inference``'s predictor;
* ``.onnx``: run by ONNX Runtime; Paddle is not imported at all.

Each gives the network's raw outputs for inputs float32 [N, 1, 28, 28]: 10 logits per image
(the classifier) or 1 value (the lesson's square-error model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist.cli import CliError
from mnist.losses import softmax
from mnist.params import UnsafeFileError, load_params

EXPORT_NAME = "mnist"  # export.py writes mnist.json, mnist.pdiparams and mnist.onnx


class ModelError(CliError):
    """A file that is not this network in a form we can run; the message says why."""


class Predictor:
    """Raw outputs [N, K] of a network for inputs [N, 1, 28, 28]; ``kind`` names the runtime."""
    kind = ""
    num_outputs = 10

    def outputs(self, inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def check_shape(self, path) -> None:
        """Run a blank input: the network must take [N, 1, 28, 28] and give 10 or 1 outputs."""
        try:
            out = self.outputs(np.zeros((2, 1, 28, 28), np.float32))
        except Exception as exc:
            raise ModelError(f"{path}: does not take a batch of 28x28 pictures "
                             f"({_first_line(exc)})") from exc
        if out.ndim != 2 or out.shape[0] != 2 or out.shape[1] not in (1, 10):
            raise ModelError(f"{path}: gives outputs of shape {list(out.shape)} for 2 pictures, "
                             "not [2, 10] or [2, 1]: not this network")
        self.num_outputs = int(out.shape[1])


class EagerPredictor(Predictor):
    kind = "pdparams"

    def __init__(self, model):
        self.model = model
        self.num_outputs = int(model.fc.weight.shape[1])

    def outputs(self, inputs):
        import paddle

        if not paddle.in_dynamic_mode():  # Paddle's mode is per thread: a new thread (the web
            paddle.disable_static()       # app's workers) starts in static-graph mode
        with paddle.no_grad():
            return self.model(paddle.to_tensor(np.ascontiguousarray(inputs))).numpy()


class InferencePredictor(Predictor):
    kind = "paddle-inference"

    def __init__(self, model_file: Path):
        import paddle.inference as pi

        params = model_file.with_suffix(".pdiparams")
        if not params.is_file():
            raise ModelError(f"{model_file}: no {params.name} beside it")
        config = pi.Config(str(model_file), str(params))
        config.disable_gpu()
        config.disable_glog_info()
        try:
            self.predictor = pi.create_predictor(config)
        except Exception as exc:
            raise ModelError(f"{model_file}: not a Paddle inference model "
                             f"({_first_line(exc)})") from exc
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def outputs(self, inputs):
        self.input.reshape(list(inputs.shape))
        self.input.copy_from_cpu(np.ascontiguousarray(inputs, dtype=np.float32))
        self.predictor.run()
        return self.output.copy_to_cpu()


class OnnxPredictor(Predictor):
    kind = "onnx"

    def __init__(self, path: Path):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError(f"{path}: ONNX Runtime is not installed; pip install -e \".[onnx]\" "
                             "(or pip install onnxruntime)") from exc
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        # Its threads sleep when idle instead of spinning: predict.py runs it between batches
        # while worker processes read pictures on the same cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"{path}: not an ONNX model ONNX Runtime can load "
                             f"({_first_line(exc)})") from exc
        self.input_name = self.session.get_inputs()[0].name

    def outputs(self, inputs):
        return self.session.run(None, {self.input_name: np.ascontiguousarray(inputs, np.float32)})[0]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{exc.__class__.__name__}: {text.splitlines()[0] if text else ''}"[:300]


def load_predictor(path) -> Predictor:
    """The network saved at ``path``, by its form (see the module's docstring)."""
    path = Path(path)
    if path.is_dir():  # an export folder
        path = path / f"{EXPORT_NAME}.json"
    if not path.is_file():
        raise FileNotFoundError(str(path))
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        predictor = OnnxPredictor(path)
    elif suffix == ".json":
        predictor = InferencePredictor(path)
    else:
        try:
            predictor = EagerPredictor(load_model(path))
        except UnsafeFileError as exc:
            raise ModelError(str(exc)) from exc
        except ModuleNotFoundError:  # no Paddle here: not the file's fault (runtime.launch)
            raise
        except Exception as exc:
            raise ModelError(f"cannot load {path} as this network's parameters "
                             f"({_first_line(exc)})") from exc
    predictor.check_shape(path)
    return predictor


def load_model(params_path):
    """The eager network with the saved parameters; 10 outputs or 1 (a ``--loss mse`` model).
    Imports Paddle."""
    from mnist.model import MNIST

    state = load_params(params_path)  # data only: a file from elsewhere never runs code
    model = MNIST(num_outputs=int(state["fc.weight"].shape[1]))
    model.set_state_dict(state)
    model.eval()
    return model


def probabilities(outputs: np.ndarray) -> np.ndarray:
    """Softmax of 10 logits per row; a square-error model's single value stays as it is."""
    return softmax(outputs).astype(np.float32) if outputs.shape[-1] > 1 else outputs


def predict_arrays(model, inputs: np.ndarray, batch: int = 500) -> np.ndarray:
    """Model outputs for inputs [N, 1, 28, 28]: probabilities [N, 10], or values [N, 1].
    ``model`` is a ``Predictor`` or the eager network itself."""
    if not isinstance(model, Predictor):
        model = EagerPredictor(model)
    outs = [probabilities(model.outputs(inputs[i:i + batch]))
            for i in range(0, len(inputs), batch)]
    return np.concatenate(outs) if outs else np.zeros((0, model.num_outputs), np.float32)
