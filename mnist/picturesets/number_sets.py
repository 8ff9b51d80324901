"""Pictures of numbers, for measuring ``predict.py --number``: a development and a test set.

    python -m mnist.picturesets.number_sets OUT_DIR [--set dev|test|confirm] [--count 300]

Each picture holds a number of 1 to 6 digits, from the same sources as the single-digit sets of
``devtest`` and split the same way (no typeface family, half of UCI's digits or seed of the test
set is in the development set):

* typed in a typeface, spaced as the typeface spaces it, or pushed together until the digits
  touch;
* handwritten: UCI's digits (scikit-learn) or the synthetic hand, side by side with gaps, or
  touching; each digit a little bigger or smaller and higher or lower than its neighbours;

the row turned by up to 4 degrees, then presented as a phone photo (uneven light, noise, blur,
JPEG), a scan, a number small on a page, light on dark, or on ruled paper with a few specks. File
names start with the true number: ``<number>_<index>_<source>-<spacing>_<presentation>.<ext>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist.picturesets.devtest import (
    SEEDS,
    corpus_digits,
    font_files,
    glyph_of,
    present,
    set_command,
    sources_of,
)

KINDS = ["photo", "scan", "small", "light-on-dark", "ruled"]
WEIGHTS = [0.3, 0.2, 0.15, 0.15, 0.2]
HEIGHT = 120  # pixels of a digit before presentation


def _ink_crop(glyph: Image.Image) -> Image.Image:
    """The glyph (dark on white) cropped to its ink."""
    box = Image.eval(glyph, lambda v: 255 - v).point(lambda v: 255 if v > 40 else 0).getbbox()
    return glyph.crop(box) if box else glyph


def row(glyphs: list[Image.Image], gaps: list[float], rng) -> Image.Image:
    """Digits (dark on white, cropped) side by side at about HEIGHT pixels, ``gaps`` between
    them (x HEIGHT; negative: overlapping), darker ink winning where they overlap."""
    scaled = []
    for g in glyphs:
        h = int(HEIGHT * rng.uniform(0.88, 1.08))
        scaled.append(g.resize((max(1, round(g.width * h / g.height)), h),
                               Image.Resampling.LANCZOS))
    margin = HEIGHT // 4
    width = sum(g.width for g in scaled) + int(sum(gaps) * HEIGHT) + 2 * margin
    page = np.full((int(HEIGHT * 1.3) + 2 * margin, max(width, 2 * margin + 1)), 255, np.uint8)
    x = margin
    for i, g in enumerate(scaled):
        y = margin + int(HEIGHT * 1.08) - g.height + int(rng.uniform(-0.05, 0.05) * HEIGHT)
        y = min(max(y, 0), page.shape[0] - g.height)
        x = min(max(x, 0), page.shape[1] - g.width)
        region = page[y:y + g.height, x:x + g.width]
        np.minimum(region, np.asarray(g), out=region)
        x += g.width + (int(gaps[i] * HEIGHT) if i < len(gaps) else 0)
    return _ink_crop(Image.fromarray(page))


def typed_row(number: str, font: Path, touching: bool, rng) -> Image.Image:
    face = ImageFont.truetype(str(font), HEIGHT)
    if not touching:  # as the typeface sets it
        left, top, right, bottom = face.getbbox(number)
        image = Image.new("L", (right - left + 20, bottom - top + 20), 255)
        ImageDraw.Draw(image).text((10 - left, 10 - top), number, fill=0, font=face)
        return _ink_crop(image)
    glyphs = []
    for ch in number:
        image = Image.new("L", (2 * HEIGHT, 2 * HEIGHT), 255)
        ImageDraw.Draw(image).text((HEIGHT // 2, HEIGHT // 4), ch, fill=0, font=face)
        glyphs.append(_ink_crop(image))
    # the same height for every digit, as type has it: no jitter for typed digits
    return row(glyphs, [-rng.uniform(0.02, 0.06) for _ in number[1:]], np.random.default_rng(0))


def hand_row(number: str, source: str, corpus, touching: bool, rng) -> Image.Image:
    glyphs = [_ink_crop(glyph_of(int(ch), source, [], corpus, rng)) for ch in number]
    gaps = [(-rng.uniform(0.0, 0.08) if touching else rng.uniform(0.12, 0.45))
            for _ in number[1:]]
    return row(glyphs, gaps, rng)


def ruled(glyph: Image.Image, rng) -> Image.Image:
    """The number written on ruled paper (it sits on a line), with a few specks about."""
    w, h = glyph.size
    page = Image.new("L", (int(w * rng.uniform(1.3, 2.0)) + 40, int(h * rng.uniform(2.5, 3.5))),
                     255)
    x, y = int(rng.integers(10, page.width - w - 10)), int(rng.integers(h // 2, page.height - h))
    draw = ImageDraw.Draw(page)
    pitch = int(h * rng.uniform(0.95, 1.3))
    shade = int(rng.integers(120, 200))  # ruled lines are lighter than the ink
    for line_y in range(y + h + 2 - pitch * 4, page.height, pitch):
        if line_y > 0:
            draw.line((0, line_y, page.width, line_y), fill=shade, width=max(1, h // 60))
    for _ in range(int(rng.integers(0, 6))):
        sx, sy, r = rng.uniform(0, page.width), rng.uniform(0, page.height), rng.uniform(1, 3)
        draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=int(rng.integers(0, 120)))
    pixels = np.asarray(page).copy()
    region = pixels[y:y + h, x:x + w]
    np.minimum(region, np.asarray(glyph), out=region)  # the ink over the lines
    return Image.fromarray(pixels)


def make_picture(number: str, split: str, sources, fonts, corpus, rng):
    source = sources[rng.integers(len(sources))]
    touching = rng.random() < 0.35 and len(number) > 1
    if source == "typed":
        glyph = typed_row(number, fonts[rng.integers(len(fonts))], touching, rng)
    else:
        glyph = hand_row(number, source, corpus, touching, rng)
    glyph = glyph.rotate(rng.uniform(-4, 4), resample=Image.Resampling.BICUBIC, expand=True,
                         fillcolor=255)
    kind = KINDS[rng.choice(len(KINDS), p=WEIGHTS)]
    if kind == "ruled":
        picture, suffix = ruled(glyph, rng), ".png"
    else:
        picture, suffix = present(glyph, kind, rng)
    return picture, suffix, f"{source}-{'touching' if touching else 'spaced'}_{kind}"


def make_set(out_dir, split: str = "dev", count: int = 300) -> list[tuple[Path, str]]:
    """Write ``count`` pictures of numbers of ``split`` into ``out_dir``; (path, number) pairs."""
    rng = np.random.default_rng(SEEDS[split] + 1)
    fonts, corpus = font_files(split), corpus_digits(split)
    sources = sources_of(fonts, corpus)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        number = "".join(str(d) for d in rng.integers(0, 10, size=int(rng.integers(1, 7))))
        picture, suffix, kind = make_picture(number, split, sources, fonts, corpus, rng)
        path = out_dir / f"{number}_{i:04d}_{kind}{suffix}"
        picture.save(path)
        written.append((path, number))
    return written


def main():
    set_command(make_set, 300, "pictures of numbers", __doc__)


if __name__ == "__main__":
    main()
