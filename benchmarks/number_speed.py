"""How long ``predict.py --number`` takes for one photo of a four-digit number, from file to
number, after start-up, with each kind of model.

    python benchmarks/number_speed.py [--onnx work/export/mnist.onnx] [--params work/robust.pdparams]

The photo is 1200x800 pixels, JPEG, the number 2026 typed in DejaVu Sans under uneven light
(made here, deterministically). Each model runs in its own fresh process, started with the
environment this script was started with; each process reads the photo 5 times to warm up,
then 50 times, and prints the median and the 90th percentile in milliseconds. Each runs twice:
with glibc keeping freed memory for reuse, as predict.py and the app set it up
(``cpu.keep_freed_memory``), and without (``plain``), alternately, --rounds times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

START_ENV = dict(os.environ)  # before anything imports Paddle (which sets OMP_NUM_THREADS)

CHILD = r"""
import sys, time
import numpy as np
from mnist.inference import load_predictor, predict_arrays
from mnist.numbers import WORK_SIZE, number_of, read_number
from mnist.pictures import open_image
if sys.argv[3] == "keep":  # as predict.py and the app do
    from mnist.cpu import keep_freed_memory
    keep_freed_memory()
model = load_predictor(sys.argv[1])
def once():
    return number_of(read_number(open_image(sys.argv[2], WORK_SIZE),
                                 lambda x: predict_arrays(model, x)))[0]
for _ in range(5):
    number = once()
times = []
for _ in range(50):
    start = time.perf_counter(); once(); times.append(1000 * (time.perf_counter() - start))
print(f"{model.kind:<9} {sys.argv[3]:<6} read {number}: median {np.median(times):.1f} ms, "
      f"90th percentile {np.percentile(times, 90):.1f} ms")
"""


def make_photo(path: Path) -> None:
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 150)
    yy, xx = np.mgrid[0:800, 0:1200].astype(np.float32)
    paper = 0.9 - 0.2 * xx / 1200 - 0.1 * yy / 800
    paper += np.random.default_rng(0).normal(0, 0.02, size=paper.shape)
    ink = Image.new("L", (1200, 800), 0)
    ImageDraw.Draw(ink).text((260, 300), "2026", font=face, fill=255)
    gray = paper * (1 - 0.7 * np.asarray(ink, np.float32) / 255)
    rgb = np.stack([gray * t for t in (1.0, 0.95, 0.9)], -1)
    Image.fromarray((255 * rgb.clip(0, 1)).astype(np.uint8)).save(path, quality=90)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--onnx", default="work/export/mnist.onnx")
    p.add_argument("--params", default="work/robust.pdparams")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    photo = Path("work") / "number-photo-2026.jpg"
    photo.parent.mkdir(exist_ok=True)
    make_photo(photo)
    models = [m for m in (args.onnx, args.params) if Path(m).exists()]
    for missing in {args.onnx, args.params} - set(models):
        print(f"{missing}: missing (python export.py writes mnist.onnx; train.py a .pdparams)")
    for _ in range(args.rounds):
        for model in models:
            for memory in ("keep", "plain"):
                subprocess.run([sys.executable, "-c", CHILD, model, str(photo), memory],
                               env=START_ENV, check=True)


if __name__ == "__main__":
    main()
