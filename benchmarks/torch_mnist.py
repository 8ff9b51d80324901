"""The job of ``python train.py`` written as a plain PyTorch script, for benchmarks/train_speed.py.

    python benchmarks/torch_mnist.py [--epochs 1] [--datafile work/mnist.json.gz]

The same network, batch 100 (shuffled, last partial batch dropped), SGD lr 0.01, cross-entropy;
after each epoch the valid accuracy, at the end the eval accuracy, then the parameters saved.
It reads the project's binary cache of the data (numpy only, no Paddle).
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


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


@torch.no_grad()
def accuracy(model, images, labels):
    return float((model(images).argmax(-1) == labels).float().mean())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--datafile", default="work/mnist.json.gz")
    p.add_argument("--save", default="/tmp/torch_mnist.pt")
    args = p.parse_args()
    start = time.perf_counter()
    with np.load(args.datafile + ".cache.npz") as d:
        split = {m: (torch.from_numpy(d[f"{m}_images"]), torch.from_numpy(d[f"{m}_labels"]))
                 for m in ("train", "valid", "eval")}
    images, labels = split["train"]
    torch.manual_seed(1)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for epoch in range(args.epochs):
        order = torch.randperm(len(labels))
        for b in range(len(labels) // 100):
            idx = order[b * 100:(b + 1) * 100]
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if b % 200 == 0:
                print(f"epoch: {epoch}, batch: {b}, loss is: {loss.item():.7f}", flush=True)
        print(f"epoch {epoch + 1}: valid accuracy {accuracy(model, *split['valid']):.4f}")
    print(f"eval accuracy {accuracy(model, *split['eval']):.4f}; "
          f"{time.perf_counter() - start:.0f} s")
    torch.save(model.state_dict(), args.save)


if __name__ == "__main__":
    main()
