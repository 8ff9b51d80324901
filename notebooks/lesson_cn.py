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
# # 手写数字识别：从平方误差到交叉熵
#
# 飞桨课程《手写数字识别之损失函数》，可以一个单元格一个单元格地运行。课程从一个把数字当作数值来读的网络出发
# （一个输出，用平方误差训练），再把它改成用 softmax 交叉熵训练的十分类器。这里用到的每个函数都来自
# `paddle-mnist` 这个包（`from mnist... import`）。
#
# 安装（在仓库里）：在自己的电脑上用 `pip install -e ".[cpu,notebook]"`，会连同飞桨 CPU 版一起
# 安装；在 AI Studio 里，或者已经装好 GPU 版飞桨的机器上，用 `pip install -e ".[notebook]"`，保留
# 原有的飞桨（见 README 的“在哪里能运行”）。离线时，把 `MNIST_DIR` 设为存放 MNIST 四个官方文件的文件夹。
#
# 为了让这个 notebook 在 2 核 CPU 上三分钟内跑完，下面每次训练只用 50000 张训练图片中的前 10000 张
# （`LIMIT`）。设成 `LIMIT = 50000` 就是课程的完整训练（在这台机器上每次约 75 s）。

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
# ## 1. 数据
#
# `MnistDataset` 读取课程的 `work/mnist.json.gz`：50000 张训练、10000 张验证和 10000 张测试（eval）图片，
# 每张 28×28 像素，取值在 [0, 1]，各带一个标签。

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
# ## 2. 网络
#
# 两个卷积块加一个全连接层（`mnist/model.py`）。课程的平方误差模型只有一个输出；分类器有十个。

# %%
from mnist.model import MNIST

_ = paddle.summary(MNIST(num_outputs=10), (1, 1, 28, 28))

# %% [markdown]
# ## 3. 课程里的算例
#
# softmax 把分数变成概率；交叉熵是正确类别概率的 −log。课程里的算例，用 `mnist/losses.py` 计算：
#
# - 三枚硬币，标签为 1、1、0，预测为"1"的概率分别是 0.8、0.9、0.3；
# - 分数 3、1、−3 的 softmax；
# - −log 0.6（正确类别的概率是 0.6）与 −log 0.1（正确类别的概率只有 0.1）。

# %%
from mnist.losses import cross_entropy, softmax

coins = cross_entropy([[0.2, 0.8], [0.1, 0.9], [0.7, 0.3]], [1, 1, 0])
print(f"three coins: cross-entropy {coins:.3f}")
print("softmax(3, 1, -3) =", np.round(softmax([3.0, 1.0, -3.0]), 2))
print(f"-log 0.6 = {cross_entropy([[0.6, 0.4]], [0]):.2f}")
print(f"-log 0.1 = {cross_entropy([[0.9, 0.1]], [1]):.2f}")

# %% [markdown]
# ## 4. 改动的三行
#
# 从平方误差改成交叉熵，只需改三行：最后一层的输出从一个变成十个，损失从 `F.square_error_cost`
# （把标签当作数值）换成 `F.cross_entropy`。下面是 `train.py` 计算这两种损失的代码：

# %%
import inspect

from mnist import losses

print(inspect.getsource(losses._square_error_loss))
print(inspect.getsource(losses._cross_entropy_loss))

# %% [markdown]
# ## 5. 分别用两种损失训练
#
# 在 Python 里调用 `train.py` 自己的训练：它打印课程里的那一行 `epoch: E, batch: B, loss is: X`、
# 每个 epoch 之后的验证集准确率，以及最后的测试集准确率。

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
# ## 6. 比较两次训练
#
# 两种损失的量纲不同，它们的数值说明不了哪个模型更好：准确率才能决定。`compare.py` 画出两条损失曲线和
# 两条验证集准确率曲线。

# %%
from mnist.compare import main as compare

compare([runs["mse"], runs["cross_entropy"], "--smooth", "10", "--out",
         "work/notebook-compare.png"])
display(Image("work/notebook-compare.png", width=900))

# %% [markdown]
# ## 7. 课程之外：为什么平方误差学得慢
#
# 在 sigmoid（或 softmax）后面，平方误差对一个"很有把握地错了"的输出几乎不推动。对正确答案的 logit z
# 的推动是 −dL/dz：交叉熵是 1 − p，平方误差是 2p(1 − p)²，当 p → 0 时趋于零。两条曲线都由 Paddle 的
# 自动求导算出：

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
# 上面的两次训练从第一个 epoch 就显示了同样的现象：两种损失都在下降，但一个 epoch 之后只有交叉熵的验证集
# 准确率是高的。

# %%
import json

for loss, run in runs.items():
    first = json.loads(Path(run, "metrics.jsonl").read_text().splitlines()[0])
    print(f"{loss:14s} valid accuracy after the first epoch: {first['valid_accuracy']:.2%}")

# %% [markdown]
# ## 8. 预测你自己的图片
#
# 先用课程的步骤（转灰度、缩放到 28×28、`1 - x/255`），再用本项目的步骤（分辨墨迹和纸，像 MNIST 那样
# 裁剪、缩放、居中），处理同一张图片：一个浅色写在深色背景上的 7，这里由一张测试图片生成（把你自己的
# 文件路径填进 `picture` 即可）。课程的步骤只适合白底黑字；每一格显示网络看到的输入。

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
