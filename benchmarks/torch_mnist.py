"""The job of ``python train.py`` written as a plain PyTorch script, for the benchmarks.

    python benchmarks/torch_mnist.py [--epochs 1] [--datafile work/mnist.json.gz]
    python benchmarks/torch_mnist.py --recipe fast --seed 1     # train.py --preset fast's recipe

The same network and the same work as train.py, and nothing more: batches shuffled, the last
partial batch dropped; the valid split scored (loss and accuracy) when train.py scores it, after
each epoch for the lesson and once at the end for the fast preset (``--validate end``); at the
end the eval split scored, then the parameters saved. Scoring runs without autograd in batches
of 1000. By default the lesson's recipe (batch 100, SGD lr 0.01, cross-entropy, 1 epoch);
``--recipe fast`` is train.py's fast preset in PyTorch's own terms: batch 128, SGD with Nesterov
momentum 0.9, ``OneCycleLR`` from lr/25 up to 0.2 over the first quarter of the steps and down to
lr/1000, cross-entropy with label smoothing 0.05, 1.5 epochs, valid scored at the end. It reads
the project's binary cache of the data (numpy only, no Paddle), as tensors in memory.
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

RECIPES = {
    "lesson": {"batch_size": 100, "lr": 0.01, "nesterov": False, "onecycle": False,
               "label_smoothing": 0.0, "epochs": 1, "validate": "epoch"},
    "fast": {"batch_size": 128, "lr": 0.2, "nesterov": True, "onecycle": True,
             "label_smoothing": 0.05, "epochs": 1.5, "validate": "end"},
}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, padding=2)
        self.conv2 = nn.Conv2d(20, 20, 5, padding=2)
        self.fc = nn.Linear(980, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.reshape(x.shape[0], 980))


def make_optimizer(model, recipe: dict, total_steps: int):
    """(optimizer, scheduler or None) of a recipe: SGD, with Nesterov momentum 0.9 and PyTorch's
    OneCycleLR (lr/25 up to lr over the first quarter, then a cosine down to lr/1000) for fast."""
    opt = torch.optim.SGD(model.parameters(), lr=recipe["lr"],
                          momentum=0.9 if recipe["nesterov"] else 0, nesterov=recipe["nesterov"])
    schedule = (torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=recipe["lr"], total_steps=total_steps, pct_start=0.25, anneal_strategy="cos",
        div_factor=25, final_div_factor=40, cycle_momentum=False) if recipe["onecycle"] else None)
    return opt, schedule


@torch.no_grad()
def score(model, images, labels, batch: int = 1000) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on a whole split, in batches."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(labels), batch):
        out, y = model(images[i:i + batch]), labels[i:i + batch]
        loss += float(F.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(-1) == y).sum())
    model.train()
    return loss / len(labels), correct / len(labels)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", choices=sorted(RECIPES), default="lesson")
    p.add_argument("--epochs", type=float, default=None, help="the recipe's unless given")
    p.add_argument("--validate", choices=("epoch", "end"), default=None,
                   help="score the valid split after each epoch or at the end (the recipe's)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--datafile", default="work/mnist.json.gz")
    p.add_argument("--save", default="/tmp/torch_mnist.pt")
    args = p.parse_args()
    r = {**RECIPES[args.recipe], **({"epochs": args.epochs} if args.epochs else {}),
         **({"validate": args.validate} if args.validate else {})}
    start = time.perf_counter()
    with np.load(args.datafile + ".cache.npz") as d:
        split = {m: (torch.from_numpy(d[f"{m}_images"]), torch.from_numpy(d[f"{m}_labels"]))
                 for m in ("train", "valid", "eval")}
    images, labels = split["train"]
    torch.manual_seed(args.seed)
    model = Net()
    bs = r["batch_size"]
    steps_per_epoch = len(labels) // bs
    total = max(1, round(r["epochs"] * steps_per_epoch))
    opt, schedule = make_optimizer(model, r, total)
    step = 0
    for epoch in range(int(np.ceil(r["epochs"]))):
        order = torch.randperm(len(labels))
        for b in range(min(steps_per_epoch, total - step)):
            idx = order[b * bs:(b + 1) * bs]
            loss = F.cross_entropy(model(images[idx]), labels[idx],
                                   label_smoothing=r["label_smoothing"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
            step += 1
            if b % 200 == 0:
                print(f"epoch: {epoch}, batch: {b}, loss is: {loss.item():.7f}", flush=True)
        if r["validate"] == "epoch" or step == total:
            print(f"epoch {epoch + 1}: valid accuracy {score(model, *split['valid'])[1]:.4f}")
    print(f"eval accuracy {score(model, *split['eval'])[1]:.4f}; "
          f"{time.perf_counter() - start:.0f} s")
    torch.save(model.state_dict(), args.save)


if __name__ == "__main__":
    main()
