"""A set of digit pictures like the ones users feed to predict.py, none of them from MNIST.

    python -m mnist.picturesets.synthetic OUT_DIR [--count 300] [--seed 0]

Each picture is one digit, drawn one of two ways:

* typed: the digit in one of the fonts that ship with matplotlib (sans, serif, mono, italic,
  bold, Computer Modern, STIX), at a random size and slant;
* handwritten: strokes along a hand-made skeleton of the digit, with random jitter, slant,
  stroke width and proportions, drawn with a round pen;

and then presented one of several ways: a clean scan (dark on white), a phone photo (small and
off-centre in a large non-square frame, uneven lighting, paper noise, blur, grey ink, JPEG), a
white-on-black image like MNIST itself, an RGBA picture with ink on a transparent background, a
16-bit grayscale PNG, a CMYK JPEG, a GIF or a BMP. The file name starts with the true digit:
``<digit>_<index>_<kind>.<ext>``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
         "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf",
         "DejaVuSansMono-Bold.ttf", "cmr10.ttf", "cmss10.ttf", "STIXGeneral.ttf",
         "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf"]


def _arc(cx, cy, rx, ry, a0, a1, n=24):
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy - ry * np.sin(t)))


# Skeletons in a unit box (x right, y down), one list of strokes per digit, some with variants.
SKELETONS = {
    0: [[_arc(0.5, 0.5, 0.32, 0.45, 0, 360)]],
    1: [[[(0.5, 0.05), (0.5, 0.95)]], [[(0.3, 0.25), (0.55, 0.05), (0.55, 0.95)]]],
    2: [[_arc(0.5, 0.3, 0.3, 0.25, 160, -20) + [(0.2, 0.95), (0.85, 0.95)]]],
    3: [[_arc(0.48, 0.28, 0.28, 0.23, 150, -90) + _arc(0.48, 0.72, 0.32, 0.23, 90, -150)]],
    4: [[[(0.65, 0.95), (0.65, 0.05), (0.15, 0.65), (0.9, 0.65)]],
        [[(0.3, 0.05), (0.2, 0.6), (0.85, 0.6)], [(0.68, 0.3), (0.68, 0.95)]]],
    5: [[[(0.8, 0.05), (0.3, 0.05), (0.25, 0.45)] + _arc(0.5, 0.68, 0.32, 0.27, 130, -150)]],
    6: [[_arc(0.5, 0.5, 0.32, 0.45, 60, 200)[:-1] + _arc(0.5, 0.7, 0.3, 0.25, 180, -180)]],
    7: [[[(0.15, 0.05), (0.85, 0.05), (0.4, 0.95)]],
        [[(0.15, 0.05), (0.85, 0.05), (0.4, 0.95)], [(0.35, 0.5), (0.75, 0.5)]]],
    8: [[_arc(0.5, 0.27, 0.25, 0.22, 270, -90) + _arc(0.5, 0.72, 0.3, 0.24, 90, 450)]],
    9: [[_arc(0.5, 0.3, 0.3, 0.25, 0, 360) + [(0.8, 0.3), (0.7, 0.95)]],
        [_arc(0.5, 0.3, 0.3, 0.25, 0, 360) + [(0.8, 0.3), (0.8, 0.95)]]],
}


def handwritten(digit: int, rng, size: int = 200) -> Image.Image:
    """Dark strokes on white, in a size x size picture, the digit filling most of it."""
    strokes = SKELETONS[digit][rng.integers(len(SKELETONS[digit]))]
    slant = rng.uniform(-0.35, 0.25)
    sx, sy = rng.uniform(0.55, 0.85), rng.uniform(0.75, 0.9)
    angle = math.radians(rng.uniform(-10, 10))
    width = int(rng.uniform(0.05, 0.12) * size)
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        pts = np.array(stroke, dtype=float)
        pts += rng.normal(0, 0.015, size=pts.shape).cumsum(axis=0) * 0.5  # a wobbly hand
        pts -= 0.5
        pts[:, 0] = pts[:, 0] * sx - slant * pts[:, 1] * sy
        pts[:, 1] = pts[:, 1] * sy
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        pts = pts @ rot.T * size + size / 2
        xy = [tuple(p) for p in pts]
        draw.line(xy, fill=0, width=width, joint="curve")
        r = width / 2
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=0)
    return image


def typed(digit: int, rng, size: int = 200) -> Image.Image:
    font = ImageFont.truetype(str(FONT_DIR / FONTS[rng.integers(len(FONTS))]),
                              int(size * rng.uniform(0.6, 0.85)))
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=font)
    draw.text(((size - (right - left)) / 2 - left, (size - (bottom - top)) / 2 - top), str(digit),
              fill=0, font=font)
    return image.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC, fillcolor=255)


def photo(glyph: Image.Image, rng) -> Image.Image:
    """The glyph (a digit, or a row of them) small and off-centre on a large, unevenly lit, noisy
    sheet, as a phone sees it."""
    w, h = int(rng.integers(900, 2400)), int(rng.integers(700, 1800))
    if rng.random() < 0.5:
        w, h = h, w
    digit_h = int(min(w, h) * rng.uniform(0.12, 0.4))
    digit_h = min(digit_h, int(0.9 * w * glyph.height / glyph.width))  # a wide number fits
    glyph_w = round(digit_h * glyph.width / glyph.height)
    glyph = glyph.resize((glyph_w, digit_h), Image.Resampling.LANCZOS)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-0.25, 0.25, size=2)
    paper = rng.uniform(0.65, 0.95) + gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    paper += rng.normal(0, 0.02, size=(h, w))
    ink = 1 - np.asarray(glyph, dtype=np.float32) / 255
    x0 = int(rng.integers(0, w - glyph_w))
    y0 = int(rng.integers(0, h - digit_h))
    darkness = rng.uniform(0.45, 0.85)
    region = paper[y0:y0 + digit_h, x0:x0 + glyph_w]
    paper[y0:y0 + digit_h, x0:x0 + glyph_w] = region * (1 - darkness * ink)
    image = Image.fromarray((np.clip(paper, 0, 1) * 255).astype(np.uint8))
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    tint = rng.uniform(0.85, 1.0, size=3)  # warm or cool light: a colour photo
    rgb = np.stack([np.asarray(image, np.float32) * t for t in tint], -1)
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


def frame(glyph: Image.Image, rng) -> Image.Image:
    """A scan: the glyph with margins on a white, non-square page."""
    w, h = glyph.size
    page = Image.new("L", (int(w * rng.uniform(1.1, 2.0)), int(h * rng.uniform(1.1, 1.6))), 255)
    page.paste(glyph, (int(rng.integers(0, page.width - w + 1)),
                       int(rng.integers(0, page.height - h + 1))))
    return page


def make_picture(digit: int, rng) -> tuple[Image.Image, str, str]:
    """(picture, kind, file suffix) for one digit."""
    glyph = (typed if rng.random() < 0.4 else handwritten)(digit, rng)
    kind = ["scan", "photo", "white-on-black", "transparent", "16bit", "cmyk", "gif", "bmp"][
        rng.choice(8, p=[0.2, 0.3, 0.1, 0.1, 0.075, 0.075, 0.075, 0.075])]
    if kind == "photo":
        return photo(glyph, rng), kind, ".jpg"
    page = frame(glyph, rng)
    if kind == "white-on-black":
        return Image.eval(page, lambda v: 255 - v), kind, ".png"
    if kind == "transparent":
        ink = Image.eval(page, lambda v: 255 - v)
        color = Image.new("RGB", page.size, tuple(int(c) for c in rng.integers(0, 90, size=3)))
        color.putalpha(ink)
        return color, kind, ".png"
    if kind == "16bit":
        return Image.fromarray((np.asarray(page, np.uint16) * 257).astype("<u2")), kind, ".png"
    if kind == "cmyk":
        return page.convert("CMYK"), kind, ".jpg"
    if kind == "gif":
        return page.convert("P"), kind, ".gif"
    return page, kind, ".bmp" if kind == "bmp" else ".png"


def make_set(out_dir, count: int = 300, seed: int = 0) -> list[tuple[Path, int]]:
    """Write ``count`` pictures (digits in turn) into ``out_dir``; return (path, digit) pairs."""
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        digit = i % 10
        image, kind, suffix = make_picture(digit, rng)
        path = out_dir / f"{digit}_{i:04d}_{kind}{suffix}"
        image.save(path)
        written.append((path, digit))
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    written = make_set(args.out_dir, args.count, args.seed)
    print(f"wrote {len(written)} pictures in {args.out_dir}")


if __name__ == "__main__":
    main()
