"""Picture files -> the network's 28x28 input. Needs numpy and Pillow only, never Paddle.

Two pipelines:

* ``lesson``: the lesson's steps: grayscale, resize to 28x28, ``1 - x / 255``. Right only for a
  picture that already looks like an MNIST digit (a dark, centred digit filling a white square).
* ``mnist`` (default): what MNIST's own preparation did, so that real pictures work:

  1. find which of ink and background is dark and even out the paper's lighting (a smooth
     surface fitted to it); the ink's strength becomes 0 (paper) .. 1 (the strokes' core),
     linearly, cutting off only what the paper's own noise explains;
  2. crop to the ink, and bring the stroke width into MNIST's range when it is far outside it
     (hairline fonts and thin pens are thickened, heavy ones thinned);
  3. scale the ink to fit a 20x20 box keeping its aspect ratio (area-averaged, like MNIST's
     anti-aliasing) and centre it by its centre of mass in 28x28.

  An MNIST digit written as a picture comes back as it was: its ink already fills 20 pixels,
  its strokes are MNIST's, and it is already centred by mass.
"""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm"}
ORIENTATION = 0x0112  # the EXIF tag saying how a photo is turned
WORK_SIZE = 512       # pictures are analysed at most this large (longer side)
BOX, CANVAS = 20, 28  # MNIST: the digit fits a 20x20 box, centred by mass in 28x28
FINE = 4 * BOX        # stroke widths are measured and changed with the digit this large
# Stroke width / long side of the digit, measured by stroke_width() on the first 20000 MNIST
# training digits: a digit outside their 0.5th to 99.5th percentiles is brought to the nearer of
# their 5th and 95th percentiles; 99% of MNIST's digits are left as they are.
STROKE_RANGE = (0.058, 0.17)
STROKE_TARGET = (0.064, 0.15)


class ImageError(Exception):
    """A picture that cannot be read or holds no digit; the message says why."""


# ----------------------------------------------------------------------------------------------
# Reading any picture as grayscale floats in [0, 1] (0 = black, 1 = white)
# ----------------------------------------------------------------------------------------------

def open_image(path, work_size: int = WORK_SIZE) -> Image.Image:
    """Open and fully decode a picture (the first frame of an animation); a JPEG is decoded
    at the smallest scale still ``work_size`` pixels on each side."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.draft("L", (work_size, work_size))  # JPEG: decode at reduced size, much faster
            image.seek(0)
            image.load()
    except Image.DecompressionBombError as exc:
        raise ImageError(f"too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not an image file Pillow can read") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"damaged or truncated image ({exc})") from exc
    if image.width < 2 or image.height < 2:
        raise ImageError(f"image is only {image.width}x{image.height} pixels")
    if image.getexif().get(ORIENTATION, 1) != 1:  # phone photos: honour the orientation tag
        image = ImageOps.exif_transpose(image)
    return image


def to_gray(image: Image.Image) -> np.ndarray:
    """Grayscale float32 array in [0, 1]. A transparent background is taken as paper: ink drawn
    on nothing is composed onto a background of the opposite brightness."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(image, dtype=np.float64)
        hi = 65535.0 if image.mode.startswith("I;16") or a.max() > 255 else 255.0
        return (np.clip(a, 0, hi) / hi).astype(np.float32)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255
        gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255
        if alpha.min() < 0.5:  # there is a transparent background
            opaque = alpha > 0.5
            ink_is_dark = gray[opaque].mean() < 0.5 if opaque.any() else True
            paper = 1.0 if ink_is_dark else 0.0
            return alpha * gray + (1 - alpha) * paper
        return gray
    if image.mode != "L":
        image = image.convert("L")  # CMYK, RGB, 1, ...
    return np.asarray(image, dtype=np.float32) / 255


# ----------------------------------------------------------------------------------------------
# Small array helpers
# ----------------------------------------------------------------------------------------------

def _box3(a: np.ndarray) -> np.ndarray:
    """3x3 mean filter (edges repeated), as a row sum then a column sum. The row sum shifts the
    flattened picture (contiguous, so fast) and then mends the first and last columns, which
    took a neighbour from the next row."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.shape[1] > 1:
        flat = a.reshape(-1)
        r = a.copy()
        r.reshape(-1)[1:] += flat[:-1]
        r[:, 0] = a[:, 0]
        r.reshape(-1)[:-1] += flat[1:]
        r[:, -1] = a[:, -1] + a[:, -2]
        r[:, 0] += a[:, 0]
    else:  # one column: its own value three times
        r = a + a
    r[:, -1] += a[:, -1]
    c = r.copy()
    c[1:] += r[:-1]
    c[:-1] += r[1:]
    c[0] += r[0]
    c[-1] += r[-1]
    c *= np.float32(1 / 9)
    return c


def median(a: np.ndarray) -> float:
    """np.median of a 1-D array, by one partial sort (numpy's own has more overhead than work
    on the small arrays here; ``mnist.numbers`` uses it too)."""
    n = len(a)
    part = np.partition(a, [(n - 1) // 2, n // 2])
    return float(0.5 * (part[(n - 1) // 2] + part[n // 2]))


def _percentile(a: np.ndarray, q: float) -> float:
    """np.percentile(a, q) of a 1-D array by one partial sort: numpy's linear interpolation in
    the array's precision (for float32 it can differ from numpy's in the last bit)."""
    pos = q / 100 * (len(a) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(a) - 1)
    part = np.partition(a, [lo, hi])
    kind = part.dtype.type
    below, above, t = part[lo], part[hi], kind(pos - lo)
    step = above - below
    return float(above - step * (kind(1) - t) if t >= 0.5 else below + step * t)


def _std(a: np.ndarray) -> float:
    """np.std of a 1-D float array, by numpy's own steps without its overhead."""
    d = a - np.add.reduce(a) / a.shape[0]
    d *= d
    return float(np.sqrt(np.add.reduce(d) / a.shape[0]))


def _pad(a: np.ndarray, m: int) -> np.ndarray:
    """``a`` with ``m`` zeros around it (np.pad does the same with more overhead)."""
    out = np.zeros((a.shape[0] + 2 * m, a.shape[1] + 2 * m), dtype=a.dtype)
    out[m:m + a.shape[0], m:m + a.shape[1]] = a
    return out


def _morph(a: np.ndarray, steps: int, grow: bool) -> np.ndarray:
    """Grey dilation (``grow``) or erosion by ``steps`` pixels, alternating a cross and a square
    so that the pen stays round."""
    pick = np.maximum if grow else np.minimum
    h, w = a.shape
    for k in range(steps):
        p = np.pad(a, 1, mode="constant" if grow else "edge")
        out = a
        for dy, dx in ((0, 1), (1, 0), (1, 2), (2, 1)):
            out = pick(out, p[dy:dy + h, dx:dx + w])
        if k % 2:
            for dy, dx in ((0, 0), (0, 2), (2, 0), (2, 2)):
                out = pick(out, p[dy:dy + h, dx:dx + w])
        a = out
    return a


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float image to (width, height): area-averaged when shrinking, Lanczos when
    growing; the same size is returned unchanged."""
    if (a.shape[1], a.shape[0]) == size:
        return a
    shrink = size[0] < a.shape[1] or size[1] < a.shape[0]
    method = Image.Resampling.BOX if shrink else Image.Resampling.LANCZOS
    out = np.asarray(Image.fromarray(np.ascontiguousarray(a, np.float32)).resize(size, method))
    return np.clip(out, 0, 1)


# ----------------------------------------------------------------------------------------------
# Step 1: the ink
# ----------------------------------------------------------------------------------------------

def _surface(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """(surface, noise): a smooth quadratic surface fitted to the picture on a coarse grid (the
    paper and its uneven lighting), and the spread of the paper around it.

    The fit is repeated on the pixels near it so that the ink does not pull it: it starts from
    the lighter half of the picture and keeps the pixels not darker than it (the paper)."""
    h, w = gray.shape
    step = -(-max(h, w) // 32)  # a grid of at most 32x32 points is plenty for a smooth surface

    def basis(y, x):  # quadratic terms of coordinates normalised to [-0.5, 0.5]
        return [np.ones_like(x * y), x, y, x * x, y * y, x * y]

    gy = (np.arange(0, h, step, dtype=np.float32) / h - 0.5)[:, None]
    gx = (np.arange(0, w, step, dtype=np.float32) / w - 0.5)[None, :]
    coarse = np.stack([t.reshape(-1) for t in np.broadcast_arrays(*basis(gy, gx))], -1)
    values = gray[::step, ::step].reshape(-1)
    middle = median(values)
    keep = values >= middle - 0.5 * (middle - np.percentile(values, 0.5))
    for _ in range(5):
        b = coarse[keep]  # least squares by the 6x6 normal equations (lstsq's SVD is slower)
        coef = np.linalg.solve(b.T @ b + 1e-6 * np.eye(6), b.T @ values[keep])
        fit = coarse @ coef
        spread = _std(values[keep] - fit[keep])
        kept, keep = keep, values > fit - 2 * spread - 1e-3
        if np.array_equal(kept, keep):
            break
    y = (np.arange(h, dtype=np.float32) / h - 0.5)[:, None]
    x = (np.arange(w, dtype=np.float32) / w - 0.5)[None, :]
    c = coef.astype(np.float32)  # basis()'s 1, x, y, xx, yy, xy: a column, a row and x * y
    surface = (c[5] * y) * x + (c[0] + c[2] * y + c[4] * (y * y))
    surface += c[1] * x + c[3] * (x * x)
    return surface, spread


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] per pixel, whichever of ink and background is dark: 0 on the
    paper, 1 in the strokes' core, linear in between."""
    smooth = _box3(gray)
    border = np.concatenate([smooth[0], smooth[-1], smooth[:, 0], smooth[:, -1]])
    paper = median(border)  # the paper reaches the picture's edges; the digit rarely does
    if smooth.max() - paper > paper - smooth.min():  # the ink is lighter than the paper
        gray, border, paper = 1.0 - gray, 1.0 - border, 1.0 - paper  # work on the negative
    if np.abs(border - paper).max() < 0.02:  # flat, evenly lit paper (a drawing, a clean scan)
        noise = _std(gray[0] - paper)
    else:  # uneven light: fit the paper's surface
        paper, noise = _surface(gray)
    ink = np.clip(paper - gray, 0, np.inf)
    smooth = _box3(ink)
    strongest = smooth.max()
    if strongest < 0.05:
        raise ImageError("no digit found (the picture is nearly uniform)")
    core = np.compress((smooth >= 0.5 * strongest).reshape(-1), ink.reshape(-1))
    top = _percentile(core, 98)  # the strokes' own darkness, not one noisy pixel
    floor = min(3 * noise, 0.5 * top)     # what the paper's texture and noise can explain
    ink -= floor
    ink /= top - floor
    return np.clip(ink, 0, 1, out=ink)


# ----------------------------------------------------------------------------------------------
# Step 2: crop, stroke width
# ----------------------------------------------------------------------------------------------

def ink_box(ink: np.ndarray, level: float = 0.04) -> tuple[slice, slice]:
    """The rows and columns holding ink above ``level``; a lone speck of dust (ink without
    inky neighbours) does not count."""
    mask = (ink > level) & (_box3(ink) > 0.12)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        raise ImageError("no digit found")
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width of the ink, as a fraction of its longer side: twice the inked area
    over its outline's length (for a long thin stroke, outline = twice its length)."""
    solid = ink > 0.5
    area = np.count_nonzero(solid)
    if area == 0:
        return 0.0
    padded = _pad(solid, 1)
    outline = (np.count_nonzero(padded[1:] != padded[:-1])
               + np.count_nonzero(padded[:, 1:] != padded[:, :-1]))
    return float(2 * area / outline / max(ink.shape))


def _fine(crop: np.ndarray) -> np.ndarray:
    h, w = crop.shape
    scale = FINE / max(h, w)
    return _resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))))


def even_strokes(crop: np.ndarray) -> np.ndarray:
    """The cropped ink with its stroke width brought into MNIST's range (unchanged when it is
    inside). Returns the crop itself, or a version FINE pixels on its longer side."""
    width = stroke_width(fine := _fine(crop))
    low, high = STROKE_RANGE
    if low <= width <= high or width == 0:
        return crop
    fine = _pad(fine, 8)  # room for the strokes to grow
    target = STROKE_TARGET[0] if width < low else STROKE_TARGET[1]
    steps = min(round(abs(target - width) * FINE / 2), 8)
    if steps:
        fine = _morph(fine, steps, grow=width < low)
    rows, cols = ink_box(fine) if fine.max() > 0.2 else (slice(None), slice(None))
    return fine[rows, cols]


# ----------------------------------------------------------------------------------------------
# Step 3: 20x20 box, centred by mass in 28x28
# ----------------------------------------------------------------------------------------------

def centre_by_mass(small: np.ndarray) -> np.ndarray:
    """Place ``small`` (at most 28x28) on the 28x28 canvas with its centre of mass at pixel
    (14, 14), to the nearest whole pixel: where MNIST put it (its digits' centres of mass all lie
    in [13.5, 14.5])."""
    total = small.sum()
    cy = (small.sum(axis=1) * np.arange(small.shape[0])).sum() / total
    cx = (small.sum(axis=0) * np.arange(small.shape[1])).sum() / total
    top = min(max(int(round(CANVAS / 2 - cy)), 0), CANVAS - small.shape[0])
    left = min(max(int(round(CANVAS / 2 - cx)), 0), CANVAS - small.shape[1])
    canvas = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    canvas[top:top + small.shape[0], left:left + small.shape[1]] = small
    return canvas


def shrink_to_box(ink: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """The ink around ``ink[rows, cols]`` scaled so that the digit's longer side is BOX pixels.

    Shrinking averages areas on a grid laid over the whole picture, and a factor within 12% of
    a whole number is taken as that number: an MNIST digit drawn at k times its size comes back
    on its own pixel grid, unblurred (and at its own size, k = 1, untouched)."""
    h, w = rows.stop - rows.start, cols.stop - cols.start
    f = max(h, w) / BOX
    if abs(f - round(f)) <= 0.12 * round(f):
        f = float(round(f))
    if f < 1:  # a small digit grows (Lanczos), with a pixel of margin for its faint edge
        r0, c0 = max(rows.start - 1, 0), max(cols.start - 1, 0)
        crop = ink[r0:rows.stop + 1, c0:cols.stop + 1]
        small = _resize(crop, (max(1, round(crop.shape[1] / f)), max(1, round(crop.shape[0] / f))))
    else:
        m = 2 * int(np.ceil(f))  # whole cells of margin, so no faint ink is cut
        ink = _pad(ink, m)
        y0, x0 = int((rows.start + m) // f) - 1, int((cols.start + m) // f) - 1
        y1, x1 = int(np.ceil((rows.stop + m) / f)) + 1, int(np.ceil((cols.stop + m) / f)) + 1
        small = np.asarray(Image.fromarray(ink).resize(
            (x1 - x0, y1 - y0), Image.Resampling.BOX, box=(x0 * f, y0 * f, x1 * f, y1 * f)))
    small = np.clip(small, 0, 1)
    r, c = ink_box(small, level=0.2)
    extent = max(r.stop - r.start, c.stop - c.start)
    if extent > BOX + 1:  # a wide faint edge made the first measure too large: measure again
        scale = BOX / extent
        small = _resize(small, (max(1, round(small.shape[1] * scale)),
                                max(1, round(small.shape[0] * scale))))
    nonzero = small > 0.5 / 255
    r, c = np.flatnonzero(nonzero.any(axis=1)), np.flatnonzero(nonzero.any(axis=0))
    small = small[r[0]:r[-1] + 1, c[0]:c[-1] + 1]
    if max(small.shape) > CANVAS:  # faint ink far out: keep what counts
        r, c = ink_box(small)
        small = small[r, c]
    return small


def picture_ink(image: Image.Image, work_size: int = WORK_SIZE) -> tuple[np.ndarray, float]:
    """(ink map, scale): step 1 on the picture shrunk to at most ``work_size`` pixels on its
    longer side; ``scale`` is the picture's pixels per pixel of the ink map."""
    if max(image.size) <= work_size:
        return ink_map(to_gray(image)), 1.0
    small = image.copy()
    small.thumbnail((work_size, work_size), Image.Resampling.BOX)
    return ink_map(to_gray(small)), image.width / small.width


def digit_input(ink: np.ndarray) -> np.ndarray:
    """Steps 2 and 3: the ink of one digit (any size, paper = 0) -> float32 [1, 28, 28]."""
    rows, cols = ink_box(ink)
    crop = ink[rows, cols]
    evened = even_strokes(crop)
    if evened is not crop:  # strokes thickened or thinned, on a digit FINE pixels tall
        ink, (rows, cols) = evened, (slice(0, evened.shape[0]), slice(0, evened.shape[1]))
    small = shrink_to_box(ink, rows, cols)
    return centre_by_mass(small).reshape(1, CANVAS, CANVAS)


def preprocess_mnist(image: Image.Image) -> np.ndarray:
    """MNIST's own preparation, applied to any picture: see the module's docstring."""
    return digit_input(picture_ink(image)[0])


def preprocess_lesson(image: Image.Image) -> np.ndarray:
    """The lesson's steps, exactly (Pillow 10 removed ANTIALIAS; LANCZOS is the same filter)."""
    im = image.convert("L").resize((CANVAS, CANVAS), Image.Resampling.LANCZOS)
    return (1.0 - np.asarray(im, dtype=np.float32).reshape(1, CANVAS, CANVAS) / 255).astype(np.float32)


PIPELINES = {"mnist": preprocess_mnist, "lesson": preprocess_lesson}


def input_picture(array: np.ndarray, scale: int = 8) -> Image.Image:
    """A network input (28x28, ink = 1) as a picture a person can see: white ink on black,
    ``scale`` times larger, pixels kept square."""
    pixels = np.round(255 * np.clip(np.asarray(array).reshape(CANVAS, CANVAS), 0, 1))
    return Image.fromarray(pixels.astype(np.uint8)).resize(
        (CANVAS * scale, CANVAS * scale), Image.Resampling.NEAREST)


def load_input(path, pipeline: str = "mnist") -> np.ndarray:
    """A picture file -> the network's input, float32 [1, 28, 28]."""
    return PIPELINES[pipeline](open_image(path))
