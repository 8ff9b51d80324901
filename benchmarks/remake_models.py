"""Remake the trained models shipped in mnist/models/ and say whether each comes out bit-identical.

    python benchmarks/remake_models.py [--only lesson mse robust] [--out work/remake] [--write]

Each model is trained by the command its card names (``python train.py ... --seed 1``), in its
own process with the environment this script was started with, into OUT/NAME.pdparams (its run
in OUT/runs/NAME). The script prints, per model, the eval accuracy of the card and of the new
run, and whether the new file is the shipped one bit for bit (on the same CPU a seed gives the
same run; another CPU's kernels round differently). Run it when the network, the training or the
picture pipeline changes, from a clean checkout.

``--write`` then copies the new files over the shipped ones and rewrites their cards: the file's
sha256, eval and valid accuracy, training time, date, machine, version and commit. The picture
figures of a card (``figures``) are measured by the commands listed with them; a card whose file
changed keeps its old ``figures_measured_on`` hash, so tests/test_shipped.py fails until those
commands are run again and the card updated. Say in CHANGELOG.md when the models were remade.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "mnist" / "models"
FLAGS = {"lesson": [], "mse": ["--loss", "mse"], "robust": ["--preset", "robust"]}
SEED = 1


def command(name: str) -> list[str]:
    return ["python", "train.py", *FLAGS[name], "--seed", str(SEED)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def git(*args) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()


def version() -> str:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def train(name: str, out: Path) -> tuple[Path, dict, float]:
    """Train one model as its card says; (its parameters file, its summary.json, seconds)."""
    params, run = out / f"{name}.pdparams", out / "runs" / name
    if run.exists():
        shutil.rmtree(run)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *command(name)[1:], "--save", str(params),
                             "--run-dir", str(run)], cwd=REPO, env=dict(os.environ))
    if result.returncode != 0:
        sys.exit(f"remake_models.py: training {name} failed (exit {result.returncode})")
    return params, json.loads((run / "summary.json").read_text()), time.perf_counter() - start


def write_card(name: str, params: Path, summary: dict) -> None:
    card_path = MODELS / f"{name}.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {"figures": []}
    shutil.copyfile(params, MODELS / f"{name}.pdparams")
    card.update({
        "name": name, "file": f"{name}.pdparams", "sha256": sha256(params),
        "command": " ".join(command(name)), "seed": SEED, "loss": summary["loss"],
        "eval_accuracy": summary["eval_accuracy"],
        "best_valid_accuracy": summary["best_valid_accuracy"],
        "train_seconds": round(summary["wall_time_s"]), "version": version(),
        "commit": git("rev-parse", "--short", "HEAD") + ("-dirty" if git("status", "--porcelain") else ""),
        "date": date.today().isoformat(), "machine": machine()})
    card.setdefault("figures_measured_on", card["sha256"])
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=sorted(FLAGS), default=list(FLAGS))
    p.add_argument("--out", default="work/remake", help="where to train (work/remake)")
    p.add_argument("--write", action="store_true",
                   help="copy the new files into mnist/models/ and rewrite their cards")
    args = p.parse_args()
    out = (REPO / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"{'model':8s} {'card eval':>10s} {'new eval':>10s} {'seconds':>8s}  bit-identical")
    for name in args.only:
        params, summary, seconds = train(name, out)
        card_path = MODELS / f"{name}.json"
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        same = card.get("sha256") == sha256(params)
        old = f"{100 * card['eval_accuracy']:.2f}%" if card else "-"
        print(f"{name:8s} {old:>10s} {100 * summary['eval_accuracy']:>9.2f}% {seconds:>8.0f}  "
              f"{'yes' if same else 'no'}", flush=True)
        if args.write and not same:
            write_card(name, params, summary)
            print(f"         wrote mnist/models/{name}.pdparams and its card; measure its "
                  "figures again with the commands the card lists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
