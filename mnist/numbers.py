"""A picture of a number -> its digits, left to right: where each one is and its 28x28 input.

Works on the ink map of ``mnist.pictures`` (so uneven light, light on dark and a number small
on a page are handled as they are for one digit). Steps 1-3 find its digit-like marks
(``mnist.marks``: solid ink without ruled lines, its connected pieces, the pieces of one digit
joined, specks dropped); then:

4. a mark wider than a digit is read whole and cut into 2, 3, ... digits along seams that
   cross the least ink, and along a straight thin stroke at either edge (a 1 leaning on its
   neighbour, where the seam of least ink would cross the neighbour); the reading kept is the
   one with the best score: the network's probabilities (squared: SURE), times a prior on a
   digit's width over its height, times a cost per cut (less for a 1 cut along its stroke);
5. a number's marks stand in one row (slanted or not): scattered blots are not a number;
6. each digit's own ink, and nothing of its neighbours', goes through the single-digit steps
   (``pictures.digit_input``); a picture read as one digit is read as ``predict.py`` reads it
   without ``--number`` (the whole picture through ``pictures.preprocess_mnist``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist.marks import SOLID, Mark, find_marks
from mnist.pictures import ImageError, digit_input, median, picture_ink, preprocess_mnist

WORK_SIZE = 768    # a number is analysed at most this large (longer side)
MAX_DIGITS = 12
WIDE = 0.7         # a mark wider than this (x its height) may be several digits touching
PEEL = 0.45        # ... or, this wide, a 1 touching a digit
STROKE = 0.2       # a 1's stroke is at most this thick (x its height)
SPAN = 0.8         # ... and straight over this much of it
ASPECT = 0.55      # a digit wider than this (x its height) is less likely the wider it is,
SPREAD = 0.2       # ... by a normal law on the log of its width with this spread;
ASPECT_ALONE = 0.55  # a mark alone in its picture, read whole, is as often one wide digit as two:
SPREAD_ALONE = 0.35  # ... its law is wider
NARROW = 0.5       # the spread for digits narrower than ASPECT (but a 1)
CUT = 1.5          # a cut between touching digits costs this much (log scale): digits touch seldom
CUT_ONE = 0.5      # ... but a 1 cut off along its own straight stroke costs this much
STEP = 0.2         # a seam between touching digits pays this for each sideways step
ROW = 0.6          # a number's digits stand in a row: centres at most this far from its line
ALONE = 0.05       # a digit alone may have this much ink (x its own) about it: faint dust
TALL = 0.7         # touching digits stand about as tall: a part shorter than this (x the
                   # mark's height) is not one
SURE = 2.0         # how much the network's probabilities weigh against the shapes (a power)
PAD = 2            # pixels of faint edge kept around a digit's solid ink


@dataclass
class Digit:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the picture's own pixels
    input: np.ndarray               # float32 [1, 28, 28], as for a single digit
    probabilities: np.ndarray       # 10 floats

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))


# ----------------------------------------------------------------------------------------------
# Steps 4-5: digits
# ----------------------------------------------------------------------------------------------

def mark_ink(ink: np.ndarray, solid: np.ndarray, mark: Mark) -> np.ndarray:
    """The ink of ``mark`` alone, in its box and PAD pixels around: everything but what lies
    within PAD pixels of another mark's solid ink (a part cut from a neighbour keeps only its
    own side)."""
    y0, x0 = max(mark.y0 - PAD, 0), max(mark.x0 - PAD, 0)
    y1, x1 = min(mark.y1 + PAD, ink.shape[0]), min(mark.x1 + PAD, ink.shape[1])
    own = np.zeros((y1 - y0, x1 - x0), bool)
    own[mark.y0 - y0:mark.y1 - y0, mark.x0 - x0:mark.x1 - x0] = mark.mask
    grow = np.ones((3, 3), bool)
    others = solid[y0:y1, x0:x1] & ~own
    keep = ~ndimage.binary_dilation(others, grow, iterations=PAD) if others.any() else True
    keep = keep | ndimage.binary_dilation(own, grow, iterations=PAD)
    return ink[y0:y1, x0:x1] * keep


def seams(mark: Mark) -> list[np.ndarray]:
    """Where ``mark`` may be cut between touching digits: top-to-bottom paths (a column per
    row, moving at most one column a row, so they follow a slant) that cross the least ink.
    At most 3 per digit-width, at least 0.15 heights apart, left to right."""
    ink = mark.mask.astype(np.float32)
    h, w = ink.shape
    cost, moves = ink[0].copy(), np.zeros((h, w), np.int8)
    for y in range(1, h):
        step = np.stack([np.r_[np.inf, cost[:-1]] + STEP, cost, np.r_[cost[1:], np.inf] + STEP])
        moves[y] = np.argmin(step, axis=0) - 1  # where the path came from: -1, 0, +1
        cost = step[moves[y] + 1, np.arange(w)] + ink[y]
    margin = max(1, int(0.1 * h))
    inner = np.arange(margin, w - margin)
    if len(inner) == 0:
        return []
    lower = (cost[inner] <= cost[inner - 1]) & (cost[inner] <= cost[inner + 1])
    chosen: list[int] = []
    for col in sorted(inner[lower], key=lambda c: cost[c]):
        if len(chosen) >= 3 * w / (0.6 * h):
            break
        if all(abs(col - c) >= 0.15 * h for c in chosen):
            chosen.append(int(col))
    paths = []
    for col in sorted(chosen):
        path = np.empty(h, np.int64)
        path[-1] = col
        for y in range(h - 1, 0, -1):
            path[y - 1] = path[y] + moves[y, path[y]]
        paths.append(path)
    return paths


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, offset) of the least-squares line y = slope * x + offset."""
    x = x.astype(np.float64)
    n, sx, sy = len(x), x.sum(), y.sum()
    slope = float((n * (x @ y) - sx * sy) / max(n * (x @ x) - sx * sx, 1e-9))
    return slope, float((sy - slope * sx) / n)


def _left_stroke(mask: np.ndarray) -> np.ndarray | None:
    """Where a straight stroke standing at the left edge of ``mask`` ends, a column per row
    (a 1 touching the digit to its right), or None if the left edge is no such stroke: the
    first ink run of each row, where it is thin, lies on a straight line from top to bottom."""
    h, w = mask.shape
    has = mask.any(axis=1)
    if has.sum() < 4:  # a few rows of ink: no line to speak of
        return None
    first = np.argmax(mask, axis=1)
    before = np.arange(w)[None, :] < first[:, None]
    paper = ~(mask | before)  # paper after each row's first ink
    run = np.where(paper.any(axis=1), np.argmax(paper, axis=1), w) - first
    thick = median(run[has])
    rows = np.flatnonzero(has & (run <= 1.6 * thick))
    if thick > STROKE * h or len(rows) < max(0.5 * h, 4):
        return None
    centre = first + run / 2
    # a line through the medians of the upper and the lower half (a flag, a foot or a
    # neighbour's lowest stroke do not move it), then fitted to the rows near it
    upper, lower = rows[:len(rows) // 2], rows[len(rows) // 2:]
    slope = ((median(centre[lower]) - median(centre[upper]))
             / max(lower[len(lower) // 2] - upper[len(upper) // 2], 1))
    offset = median(centre[upper]) - slope * upper[len(upper) // 2]
    for _ in range(2):
        rows = rows[np.abs(centre[rows] - (slope * rows + offset)) <= 0.5 * thick]
        if len(rows) < 0.5 * h:
            return None
        slope, offset = _line(rows, centre[rows])
    on = np.abs(first - (slope * np.arange(h) + offset)) <= thick
    if abs(slope) > 0.4 or rows[-1] - rows[0] < SPAN * h or on.mean() < SPAN:
        return None
    path = np.ceil(slope * np.arange(h) + offset + thick / 2 + 1).astype(np.int64)
    if median(path) > w - 0.3 * h:  # nothing to its right: a 1 alone
        return None
    return np.clip(path, 1, w - 1)


def stroke_seams(mark: Mark) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Seams along a straight stroke at the left and at the right edge of ``mark`` (a 1
    touching its neighbour, where the seam of least ink would cross the neighbour instead),
    or None where there is no such stroke."""
    right = _left_stroke(mark.mask[:, ::-1])
    return _left_stroke(mark.mask), None if right is None else mark.w - right


def shape_score(part: Mark, height: int, digit: int, aspect_mean: float = 0.55,
                wide_spread: float = 0.2, cut: float = CUT) -> float:
    """How much ``part`` looks like one digit by its shape alone (log scale, 0 = fully): the
    log of its width over its height is taken as normal around ``aspect_mean``, with spread
    ``wide_spread`` for wider and NARROW for narrower ones (a 1 may be as narrow as it likes);
    a part much shorter than the mark is not a digit."""
    aspect = max(part.w, 1) / height
    spread = wide_spread if aspect > aspect_mean else NARROW if digit != 1 else np.inf
    score = -0.5 * (np.log(aspect / aspect_mean) / spread) ** 2
    return score - 3.0 * (part.h < TALL * height) - cut


def readings(mark: Mark) -> tuple[int, list[tuple[int, int, Mark, bool]]]:
    """(n, parts): the number of seams ``mark`` may be cut along (its two sides included),
    and the parts between any two of them, (i, j, part, stroke), that could be one digit;
    ``stroke``: the part is a straight stroke at the mark's edge, cut along it."""
    sides = [np.zeros(mark.h, np.int64), np.full(mark.h, mark.w, np.int64)]
    cuts = seams(mark) if mark.w > WIDE * mark.h else []
    left, right = stroke_seams(mark) if mark.w > PEEL * mark.h else (None, None)
    strokes = [s for s in (left, right) if s is not None]
    cuts = [c for c in cuts if all(abs(median(c - s)) > 0.1 * mark.h for s in strokes)]
    edges = sides[:1] + sorted(cuts + strokes, key=median) + sides[1:]
    parts = []
    for i in range(len(edges)):
        for j in range(i + 1, len(edges)):
            whole = (i, j) == (0, len(edges) - 1)
            if whole or median(edges[j] - edges[i]) <= 2.5 * mark.h:
                part = mark if whole else mark.between(edges[i], edges[j])
                if part is not None:
                    stroke = ((i == 0 and edges[j] is left)
                              or (j == len(edges) - 1 and edges[i] is right))
                    parts.append((i, j, part, stroke))
    return len(edges), parts


def best_reading(n_edges: int, parts, scores) -> list[int]:
    """The parts (their indices) that tile the mark from its first edge to its last with the
    highest total score (dynamic programming over the edges)."""
    best = [(-np.inf, [])] * n_edges
    best[0] = (0.0, [])
    for k in sorted(range(len(parts)), key=lambda k: parts[k][1]):
        i, j = parts[k][:2]
        total = best[i][0] + scores[k]
        if total > best[j][0]:  # (each part paid CUT: the whole mark pays it once too)
            best[j] = (total, best[i][1] + [k])
    return best[-1][1]


def read_marks(ink: np.ndarray, marks: list[Mark], classify):
    """(mark, input, probabilities) of each digit, each wide mark read as the digits that
    explain it best (the network's probabilities and the digits' shapes);
    ``classify``: inputs [N, 1, 28, 28] -> probabilities [N, 10]."""
    solid = ink > SOLID
    options = [readings(m) for m in marks]
    flat = [part for _n, parts in options for _i, _j, part, _s in parts]
    inputs = []
    for part in flat:
        try:
            inputs.append(digit_input(mark_ink(ink, solid, part)))
        except ImageError:  # no ink worth the name in this part
            inputs.append(np.zeros((1, 28, 28), np.float32))
    probs = classify(np.stack(inputs)) if inputs else np.zeros((0, 10), np.float32)
    read, k = [], 0
    for mark, (n_edges, parts) in zip(marks, options):
        # a mark alone in its picture, read whole, may be one wide digit; its parts are digits
        # of a number, as are all the marks of a row
        laws = [(ASPECT_ALONE, SPREAD_ALONE) if part is mark and len(marks) == 1
                else (ASPECT, SPREAD) for _i, _j, part, _s in parts]
        digits = probs[k:k + len(parts)].argmax(axis=1)
        scores = [SURE * float(np.log(max(probs[k + n].max(), 1e-12)))
                  + shape_score(part, mark.h, int(digits[n]), *laws[n],
                                CUT_ONE if stroke and digits[n] == 1 else CUT)
                  for n, (_i, _j, part, stroke) in enumerate(parts)]
        read += [(parts[n][2], inputs[k + n], probs[k + n])
                 for n in best_reading(n_edges, parts, scores)]
        k += len(parts)
    return read


def in_a_row(marks: list[Mark]) -> bool:
    """Whether the marks' centres lie near one straight line (a row, slanted or not): none
    further from the line fitted to them than ROW x the digits' height."""
    if len(marks) < 3:
        return len(marks) < 2 or abs((marks[0].y0 + marks[0].y1) - (marks[1].y0 + marks[1].y1)) \
            / 2 <= ROW * np.median([m.h for m in marks])
    x = np.array([(m.x0 + m.x1) / 2 for m in marks])
    y = np.array([(m.y0 + m.y1) / 2 for m in marks])
    slope, offset = np.polyfit(x, y, 1)
    return bool(np.abs(y - (slope * x + offset)).max() <= ROW * np.median([m.h for m in marks]))


def alone(ink: np.ndarray, mark: Mark) -> bool:
    """Whether ``mark`` holds nearly all the picture's ink: no ruled lines, specks or marks
    beside it that the single-digit mode would take in."""
    y0, x0 = max(mark.y0 - PAD, 0), max(mark.x0 - PAD, 0)
    inside = ink[y0:mark.y1 + PAD, x0:mark.x1 + PAD].sum()
    return bool(ink.sum() - inside <= ALONE * inside)


def read_number(image: Image.Image, classify) -> list[Digit]:
    """The digits of a picture of a number, left to right. Raises ImageError for a picture
    with no digits or with more than MAX_DIGITS digit-like marks."""
    try:
        ink, scale = picture_ink(image, WORK_SIZE)
    except ImageError as exc:
        raise ImageError("no digits found (the picture is nearly uniform)") from exc
    marks = find_marks(ink)
    if not marks:
        raise ImageError("no digits found")
    if len(marks) > MAX_DIGITS:
        raise ImageError(f"more than {MAX_DIGITS} digit-like marks ({len(marks)}): not a number")
    if not in_a_row(marks):
        raise ImageError(f"{len(marks)} digit-like marks, not in one row: not a number")
    read = read_marks(ink, marks, classify)
    if len(read) == 1 and alone(ink, read[0][0]):  # read as the default mode reads it
        array = preprocess_mnist(image)
        read = [(read[0][0], array, classify(array[None])[0])]
    digits = []
    for mark, array, probs in read:
        box = (int(mark.x0 * scale), int(mark.y0 * scale),
               min(image.width, int(np.ceil(mark.x1 * scale))),
               min(image.height, int(np.ceil(mark.y1 * scale))))
        digits.append(Digit(box, array, probs))
    if len(digits) > MAX_DIGITS:
        raise ImageError(f"more than {MAX_DIGITS} digits: not a number")
    return digits


def number_of(digits: list[Digit]) -> tuple[str, float]:
    """(the number as a string of digits, the product of their probabilities)."""
    return "".join(str(d.digit) for d in digits), float(np.prod([d.probabilities.max()
                                                                  for d in digits]))


def boxes_picture(image: Image.Image, digits: list[Digit]) -> Image.Image:
    """The picture with each digit's box and reading drawn on it."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    line = max(2, round(max(out.size) / 300))
    for d in digits:
        x0, y0, x1, y1 = d.box
        draw.rectangle((x0, y0, x1, y1), outline=(230, 40, 40), width=line)
        size = max(12, (y1 - y0) // 3)
        draw.text((x0, max(0, y0 - size - line)), str(d.digit), fill=(230, 40, 40),
                  font_size=size)
    return out
