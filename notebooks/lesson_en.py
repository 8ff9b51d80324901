# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Handwritten digits: from square error to cross-entropy
#
# The PaddlePaddle lesson "手写数字识别之损失函数" (loss functions for MNIST), runnable cell by
# cell. It starts from a network that reads a digit as a number (one output, trained with square
# error) and turns it into a ten-way classifier trained with softmax cross-entropy. Every
# function used here is the `paddle-mnist` package's own (`from mnist... import`).
#
# Set-up, from the repository: on your own computer `pip install -e ".[cpu,notebook]"`, which
# brings PaddlePaddle's CPU wheel too; in AI Studio, or wherever a GPU build of Paddle is
# installed already, `pip install -e ".[notebook]"`, which keeps that Paddle (the README's
# "Where it runs"). Offline, set `MNIST_DIR` to a folder with the four official MNIST files.
#
# To keep this notebook under three minutes on a 2-core CPU, each training run below uses the
# first 10000 of the 50000 training images (`LIMIT`). Set `LIMIT = 50000` for the lesson's full
# run (about 75 s per run there).

# %%
import os
from pathlib import Path

import mnist  # noqa: F401  first: it sets up Paddle's CPU path and quiets Paddle's ccache warning
import matplotlib.pyplot as plt
import numpy as np
import paddle
from IPython.display import Image, display

from mnist.data import DataError, MnistDataset, build_datafile

if Path.cwd().name == "notebooks":  # run from the repository's root, where work/ is
    os.chdir(Path.cwd().parent)
LIMIT = 10000  # training images per epoch; 50000 is the lesson's full run
try:
    build_datafile("work/mnist.json.gz")  # from $MNIST_DIR or Paddle's download cache
    DATA = True
except DataError as exc:
    DATA = False
    print(f"No MNIST data: {exc}".splitlines()[0])

# %% [markdown]
# ## 1. The data
#
# `MnistDataset` reads the lesson's `work/mnist.json.gz`: 50000 training, 10000 valid and 10000
# eval images of 28×28 pixels in [0, 1], each with its label.

# %%
train_set = MnistDataset("train")
image, label = train_set[0]
print(f"{len(train_set)} training images; one is {image.shape} {image.dtype}, label {label}")
fig, axes = plt.subplots(1, 8, figsize=(8, 1.3))
for ax, i in zip(axes, range(8)):
    ax.imshow(train_set.images[i, 0], cmap="gray")
    ax.set_title(str(train_set.labels[i]))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. The network
#
# Two convolution blocks and a linear layer (`mnist/model.py`). The lesson's square-error model
# has one output; the classifier has ten.

# %%
from mnist.model import MNIST

_ = paddle.summary(MNIST(num_outputs=10), (1, 1, 28, 28))

# %% [markdown]
# ## 3. The lesson's numbers
#
# Softmax turns scores into probabilities; cross-entropy is −log of the probability of the right
# class. The lesson's worked numbers, computed by `mnist/losses.py`:
#
# - three coins, labels 1, 1, 0, predicted probabilities of "1": 0.8, 0.9, 0.3;
# - softmax of the scores 3, 1, −3;
# - −log 0.6 (the right class has p = 0.6) against −log 0.1 (it has p = 0.1).

# %%
from mnist.losses import cross_entropy, softmax

coins = cross_entropy([[0.2, 0.8], [0.1, 0.9], [0.7, 0.3]], [1, 1, 0])
print(f"three coins: cross-entropy {coins:.3f}")
print("softmax(3, 1, -3) =", np.round(softmax([3.0, 1.0, -3.0]), 2))
print(f"-log 0.6 = {cross_entropy([[0.6, 0.4]], [0]):.2f}")
print(f"-log 0.1 = {cross_entropy([[0.9, 0.1]], [1]):.2f}")

# %% [markdown]
# ## 4. The three-line change
#
# From square error to cross-entropy, three lines change: the last layer has ten outputs instead
# of one, and the loss is `F.cross_entropy` instead of `F.square_error_cost` (on the label as a
# number). Here are the two losses as `train.py` computes them:

# %%
import inspect

from mnist import losses

print(inspect.getsource(losses._square_error_loss))
print(inspect.getsource(losses._cross_entropy_loss))

# %% [markdown]
# ## 5. Training each loss
#
# `train.py`'s own run, called from Python: it prints the lesson's line
# `epoch: E, batch: B, loss is: X`, the valid accuracy after each epoch and the eval accuracy
# at the end.

# %%
import shutil

from mnist.training import main as train

runs = {}
for loss in ("mse", "cross_entropy"):
    runs[loss] = f"work/runs/notebook-{loss}"
    shutil.rmtree(runs[loss], ignore_errors=True)  # this notebook's run of an earlier time
    code = train(["--loss", loss, "--limit", str(LIMIT), "--epochs", "10", "--seed", "1",
                  "--log-interval", "50", "--run-dir", runs[loss],
                  "--save", f"work/notebook-{loss}.pdparams"])
    assert code == 0, f"train.py ended with exit code {code}"

# %% [markdown]
# ## 6. The two runs compared
#
# The two losses live on different scales, so their values say nothing about which model is
# better: accuracy decides. `compare.py` draws both losses and both validation accuracies.

# %%
from mnist.compare import main as compare

compare([runs["mse"], runs["cross_entropy"], "--smooth", "10", "--out",
         "work/notebook-compare.png"])
display(Image("work/notebook-compare.png", width=900))

# %% [markdown]
# ## 7. Beyond the lesson: why square error learns slowly
#
# Behind a sigmoid (or a softmax), square error pushes a surely wrong output hardly at all. The
# push on the right answer's logit z is −dL/dz: for cross-entropy 1 − p, for square error
# 2p(1 − p)², which vanishes as p → 0. Paddle's autograd computes both curves:

# %%
from mnist.inference import load_predictor, predict_arrays
from mnist.losses import batch_logit_gradients, logit_gradients

p = np.linspace(0.001, 0.999, 400)
ce_push, se_push = logit_gradients(p)
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.plot(p, ce_push, label="cross-entropy, -log p")
left.plot(p, se_push, label="square error, (1 - p)²")
left.set_xlabel("predicted probability of the right class, p")
left.set_ylabel("push on the right logit, -dL/dz")
left.set_title("computed by autograd")
left.legend()

# the same on real digits: the classifier trained above, on 2000 eval digits
model = load_predictor("work/notebook-cross_entropy.pdparams")
eval_set = MnistDataset("eval")
logits = model.outputs(eval_set.images[:2000])
p_right, ce_push_real, se_push_real = batch_logit_gradients(logits, eval_set.labels[:2000])
right.scatter(p_right, ce_push_real, s=8, label="cross-entropy")
right.scatter(p_right, se_push_real, s=8, label="square error on the softmax")
right.set_xscale("log")
right.set_xlabel("p of the right digit (log scale)")
right.set_title("2000 eval digits, the trained classifier")
right.legend()
plt.show()
wrong = p_right < 0.05
print(f"digits it is surely wrong about (p < 0.05): {wrong.sum()} of 2000; mean push on the "
      f"right logit: cross-entropy {ce_push_real[wrong].mean():.3f}, "
      f"square error {se_push_real[wrong].mean():.4f}")

# %% [markdown]
# The two runs above show the same from their first epoch: both losses fall, but after one epoch
# only cross-entropy's valid accuracy is high.

# %%
import json

for loss, run in runs.items():
    first = json.loads(Path(run, "metrics.jsonl").read_text().splitlines()[0])
    print(f"{loss:14s} valid accuracy after the first epoch: {first['valid_accuracy']:.2%}")

# %% [markdown]
# ## 8. Predicting your own picture
#
# First the lesson's steps (grayscale, resize to 28×28, `1 - x/255`), then this project's
# (find ink and paper, crop, scale and centre as MNIST did), on the same picture: a 7 written
# light on dark, made here from an eval digit (put your own file's path in `picture`). The
# lesson's steps only suit a dark digit on white; each panel shows what the network saw.

# %%
from PIL import Image as PILImage
from PIL import ImageOps

from mnist.pictures import input_picture, load_input

picture = "work/notebook-seven.png"
seven = MnistDataset("eval").images[0, 0]  # the eval split's first digit, a 7
ImageOps.invert(PILImage.fromarray(np.uint8(255 - 255 * seven)).resize((140, 140))).save(picture)
fig, axes = plt.subplots(1, 3, figsize=(7, 2.6))
axes[0].imshow(PILImage.open(picture), cmap="gray")
axes[0].set_title("the picture")
for ax, steps in zip(axes[1:], ("lesson", "mnist")):
    x = load_input(picture, steps)
    digit = int(predict_arrays(model, x[None]).argmax())
    ax.imshow(input_picture(x[0]), cmap="gray")
    ax.set_title(f"{steps} steps: {digit}")
for ax in axes:
    ax.axis("off")
plt.show()
