"""Two sets of real-looking digit pictures from sources other than MNIST: one to tune on, one to
report.

    python -m mnist.picturesets.devtest OUT_DIR [--set dev|test|confirm] [--count 600]

Sources, split so that no font, writer or seed of the test set is in the development set:

* typed: a digit in a typeface from Debian's font packages (the families below; install them
  with ``apt-get install fonts-liberation ...``, the list is in ``FONT_PACKAGES``);
* handwritten, another corpus: the 1797 digits of UCI's optical-recognition set that
  scikit-learn ships (``sklearn.datasets.load_digits``, 8x8 pictures of 43 people's writing,
  drawn up smoothly; dev the first half, test the second), when scikit-learn is installed;
* handwritten, a synthetic hand: strokes along digit skeletons with random jitter, slant, stroke
  width and proportions (``synthetic.handwritten``), with other seeds per set.

A third set, ``confirm``, is drawn afresh from the test set's sources (its typeface families,
the second half of UCI's digits) with a seed of its own: once the test set's errors have been
looked at, its figures are no longer unseen, and the confirm set's still are, but for what those
errors taught about the test set's sources.

Each is presented as people present digits: a scan (dark on white, margins), a phone photo
(small and off-centre in a large frame, uneven light, paper noise, blur, JPEG), light on dark, a
small off-centre digit on a clean page, a drawing on a canvas with a thin pen, a CMYK JPEG, or
ink on a transparent background. File names start with the true digit:
``<digit>_<index>_<source>_<presentation>.<ext>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist.picturesets.synthetic import frame, handwritten, photo

FONT_ROOT = Path("/usr/share/fonts")
FONT_FAMILIES = {  # folder names under /usr/share/fonts/{truetype,opentype}
    "dev": ["dejavu", "liberation", "freefont", "open-sans", "comic-neue", "hack", "cantarell",
            "gentium", "league-spartan", "roboto"],
    "test": ["urw-base35", "lato", "linux-libertine", "ebgaramond", "crosextra", "humor-sans",
             "quicksand", "firacode", "inconsolata", "jetbrains-mono", "andika",
             "dancingscript"],
}
FONT_PACKAGES = ("fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-open-sans "
                 "fonts-comic-neue fonts-hack fonts-cantarell fonts-sil-gentium "
                 "fonts-league-spartan fonts-roboto-unhinted fonts-urw-base35 fonts-lato "
                 "fonts-linuxlibertine fonts-ebgaramond fonts-crosextra-carlito "
                 "fonts-crosextra-caladea fonts-humor-sans fonts-quicksand fonts-firacode "
                 "fonts-inconsolata fonts-jetbrains-mono fonts-sil-andika fonts-dancingscript")
NOT_DIGITS = ("Dingbats", "Symbol", "D050000L", "Math", "Biolinum_K")  # "7" is not a seven (K: keycaps)
FONT_FAMILIES["confirm"] = FONT_FAMILIES["test"]
SEEDS = {"dev": 101, "test": 202, "confirm": 505}  # numbers: these + 1; extra digits 303
PRESENTATIONS = ["scan", "photo", "light-on-dark", "small", "canvas", "cmyk", "transparent"]
WEIGHTS = [0.2, 0.3, 0.12, 0.1, 0.1, 0.09, 0.09]


def font_files(split: str) -> list[Path]:
    found = []
    for family in FONT_FAMILIES[split]:
        for kind in ("truetype", "opentype"):
            folder = FONT_ROOT / kind / family
            if folder.is_dir():
                found += [p for p in sorted(folder.rglob("*")) if p.suffix in (".ttf", ".otf")
                          and not any(bad in p.name for bad in NOT_DIGITS)]
    return found


def corpus_digits(split: str):
    """(images 8x8 in [0, 1], labels) of UCI's digits for this split, or None without sklearn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    data = load_digits()
    half = len(data.target) // 2
    part = slice(0, half) if split == "dev" else slice(half, None)
    return data.images[part] / 16.0, data.target[part]


def typed(digit: int, font: Path, rng, size: int = 200) -> Image.Image:
    face = ImageFont.truetype(str(font), int(size * rng.uniform(0.55, 0.8)))
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=face)
    draw.text(((size - (right - left)) / 2 - left, (size - (bottom - top)) / 2 - top),
              str(digit), fill=0, font=face)
    return image.rotate(rng.uniform(-6, 6), resample=Image.Resampling.BICUBIC, fillcolor=255)


def from_corpus(pixels: np.ndarray, rng, size: int = 200) -> Image.Image:
    """An 8x8 corpus digit (ink = 1) drawn up smoothly, dark on white, with a margin."""
    small = Image.fromarray((255 * (1 - pixels)).astype(np.uint8))
    inner = int(size * rng.uniform(0.6, 0.8))
    glyph = small.resize((inner, inner), Image.Resampling.BICUBIC)
    image = Image.new("L", (size, size), 255)
    image.paste(glyph, ((size - inner) // 2, (size - inner) // 2))
    return image


def present(glyph: Image.Image, how: str, rng) -> tuple[Image.Image, str]:
    """(picture, file suffix): the glyph (dark on white) as a person would hand it over."""
    if how == "photo":
        return photo(glyph, rng), ".jpg"
    if how == "small":  # a small digit (or number) somewhere on a clean page
        page = Image.new("L", (int(rng.integers(300, 700)), int(rng.integers(300, 700))), 255)
        side = int(min(page.size) * rng.uniform(0.08, 0.2))
        side = min(side, int(0.9 * page.width * glyph.height / glyph.width))  # a wide number fits
        wide = round(side * glyph.width / glyph.height)
        page.paste(glyph.resize((wide, side), Image.Resampling.LANCZOS),
                   (int(rng.integers(0, page.width - wide)), int(rng.integers(0, page.height - side))))
        return page, ".png"
    if how == "canvas":  # drawn with a thin pen on a square canvas, white on black
        canvas = glyph.resize((280, 280), Image.Resampling.LANCZOS)
        return Image.eval(canvas, lambda v: 255 - v), ".png"
    page = frame(glyph, rng)
    if how == "light-on-dark":
        dark = rng.uniform(0, 0.35)
        return Image.eval(page, lambda v: int(255 - v * (1 - dark))), ".png"
    if how == "cmyk":
        return page.convert("CMYK"), ".jpg"
    if how == "transparent":
        color = Image.new("RGB", page.size, tuple(int(c) for c in rng.integers(0, 90, size=3)))
        color.putalpha(Image.eval(page, lambda v: 255 - v))
        return color, ".png"
    return page, ".png"


def sources_of(fonts, corpus) -> list[str]:
    """The sources a set can draw from here: typed (with fonts), hand, corpus (with sklearn)."""
    return ["typed"] * bool(fonts) + ["hand"] + ["corpus"] * (corpus is not None)


def glyph_of(digit: int, source: str, fonts, corpus, rng) -> Image.Image:
    """One digit, dark on white, from ``source``: typed in one of ``fonts``, one of the
    ``corpus`` digits (images, labels), or drawn by the synthetic hand."""
    if source == "typed":
        return typed(digit, fonts[rng.integers(len(fonts))], rng)
    if source == "corpus":
        images, labels = corpus
        return from_corpus(images[rng.choice(np.flatnonzero(labels == digit))], rng)
    return handwritten(digit, rng)


def set_command(make, count: int, what: str, doc: str) -> None:
    """``python -m ... OUT_DIR [--set dev|test|confirm] [--count N]``: write a set with ``make``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--set", choices=sorted(SEEDS), default="dev")
    parser.add_argument("--count", type=int, default=count)
    args = parser.parse_args()
    written = make(args.out_dir, args.set, args.count)
    print(f"wrote {len(written)} {what} of the {args.set} set in {args.out_dir}")


def make_set(out_dir, split: str = "dev", count: int = 600) -> list[tuple[Path, int]]:
    """Write ``count`` pictures of ``split`` into ``out_dir``; return (path, digit) pairs."""
    rng = np.random.default_rng(SEEDS[split])
    fonts, corpus = font_files(split), corpus_digits(split)
    sources = sources_of(fonts, corpus)
    if not fonts:
        print(f"note: no fonts of the {split} set found; install: apt-get install "
              f"{FONT_PACKAGES}", file=sys.stderr)
    if corpus is None:
        print("note: scikit-learn is not installed: no pictures from UCI's handwritten digits "
              "(pip install scikit-learn)", file=sys.stderr)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        digit, source = i % 10, sources[(i // 10) % len(sources)]
        glyph = glyph_of(digit, source, fonts, corpus, rng)
        how = PRESENTATIONS[rng.choice(len(PRESENTATIONS), p=WEIGHTS)]
        if how == "canvas" and source != "hand":
            how = "scan"
        picture, suffix = present(glyph, how, rng)
        path = out_dir / f"{digit}_{i:04d}_{source}_{how}{suffix}"
        picture.save(path)
        written.append((path, digit))
    return written


def main():
    set_command(make_set, 600, "pictures", __doc__)


if __name__ == "__main__":
    main()
