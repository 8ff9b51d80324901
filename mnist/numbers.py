"""A picture of a number -> its digits, left to right: where each one is and its 28x28 input.

Works on the ink map of ``mnist.pictures`` (so uneven light, light on dark and a number small
on a page are handled as they are for one digit), in six steps:

1. the solid ink (above SOLID) is the mask; straight runs much longer than the marks (the lines
   of ruled paper, an underline) are taken out of it;
2. its connected pieces (``scipy.ndimage.label``, 8-connected); tiny ones are dropped;
3. pieces stacked one above the other (a 5 whose bar stands apart) are joined; pieces shorter
   than the digits (a stroke broken by light) join their nearest full-height neighbour, or are
   dropped as specks, dots and dashes;
4. a mark wider than a digit is read whole and cut into 2, 3, ... digits along seams that
   cross the least ink; the reading kept is the one with the best score: the network's
   probabilities, times a prior on a digit's width over its height, times a cost per cut;
5. a number's marks stand in one row (slanted or not): scattered blots are not a number;
6. each digit's own ink, and nothing of its neighbours', goes through the single-digit steps
   (``pictures.digit_input``), so one digit alone is prepared as ``predict.py`` prepares it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist.pictures import ImageError, digit_input, picture_ink

WORK_SIZE = 768    # a number is analysed at most this large (longer side)
MAX_DIGITS = 12
SOLID = 0.35       # ink above this is a mark's body
TINY = 0.02        # pieces with less area than this share of the largest one are dust
SPECK = 0.3        # marks this small both ways (x the digits' height) are specks
FULL = 0.55        # a mark this tall (x the digits' height) is a digit; a shorter one a piece
REACH = 0.3        # a piece joins a digit at most this far away (x the digits' height)
WIDE = 0.7         # a mark wider than this (x its height) may be several digits touching
ASPECT = 0.55      # a digit wider than this (x its height) is less likely the wider it is,
SPREAD = 0.2       # ... by a normal law on the log of its width with this spread;
ASPECT_ALONE = 0.85  # a mark alone in its picture is more often one wide digit than two:
SPREAD_ALONE = 0.35  # ... its law is wider
NARROW = 0.5       # the spread for digits narrower than ASPECT (but a 1)
CUT = 2.0          # a cut between touching digits costs this much (log scale): digits touch seldom
LINE = 3.0         # a straight run this many times the tallest mark is a ruled line
THIN = 10          # ... and a line is at least this many times as long as it is thick
STEP = 0.2         # a seam between touching digits pays this for each sideways step
ROW = 0.6          # a number's digits stand in a row: centres at most this far from its line
PAD = 2            # pixels of faint edge kept around a digit's solid ink


@dataclass
class Mark:
    """A digit-like mark: its box in the ink map and its own pixels in that box."""
    y0: int
    x0: int
    y1: int
    x1: int
    mask: np.ndarray

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    def join(self, other: Mark) -> Mark:
        y0, x0 = min(self.y0, other.y0), min(self.x0, other.x0)
        y1, x1 = max(self.y1, other.y1), max(self.x1, other.x1)
        mask = np.zeros((y1 - y0, x1 - x0), bool)
        for m in (self, other):
            mask[m.y0 - y0:m.y1 - y0, m.x0 - x0:m.x1 - x0] |= m.mask
        return Mark(y0, x0, y1, x1, mask)

    def between(self, left: np.ndarray, right: np.ndarray) -> Mark | None:
        """Its pixels right of the seam ``left`` and left of ``right`` (a column of its box
        per row), trimmed to their ink; None if there is none."""
        cols = np.arange(self.w)[None, :]
        part = self.mask & (cols >= left[:, None]) & (cols < right[:, None])
        rows, used = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
        if len(rows) == 0:
            return None
        part = part[rows[0]:rows[-1] + 1, used[0]:used[-1] + 1]
        return Mark(self.y0 + rows[0], self.x0 + used[0], self.y0 + rows[-1] + 1,
                    self.x0 + used[-1] + 1, part)


@dataclass
class Digit:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the picture's own pixels
    input: np.ndarray               # float32 [1, 28, 28], as for a single digit
    probabilities: np.ndarray       # 10 floats

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))


# ----------------------------------------------------------------------------------------------
# Steps 1-3: the marks
# ----------------------------------------------------------------------------------------------

def long_runs(mask: np.ndarray, length: int) -> np.ndarray:
    """The pixels of ``mask`` in horizontal runs at least ``length`` long. A run may step by a
    row (a line photographed at a slight angle): runs are measured on the mask grown by one row
    up and down."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    h, w = grown.shape
    edges = np.diff(np.pad(grown, ((0, 0), (1, 1))).astype(np.int8), axis=1).reshape(-1)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = ends - starts >= length
    if not keep.any():  # most pictures: no line at all
        return np.zeros_like(mask)
    marker = np.zeros(h * (w + 1) + 1, np.int8)
    marker[starts[keep]] = 1  # runs neither overlap nor touch: one mark per place
    marker[ends[keep]] = -1
    return (np.cumsum(marker, dtype=np.int8)[:-1].reshape(h, w + 1)[:, :w] > 0) & mask


def pieces(solid: np.ndarray) -> list[Mark]:
    """The connected pieces of ``solid``, without dust."""
    labels, n = ndimage.label(solid, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    areas = np.bincount(labels.reshape(-1))[1:]
    big = areas >= max(4, TINY * areas.max())
    return [Mark(s[0].start, s[1].start, s[0].stop, s[1].stop, labels[s] == i + 1)
            for i, s in enumerate(ndimage.find_objects(labels)) if big[i]]


def without_lines(solid: np.ndarray) -> np.ndarray:
    """``solid`` without its ruled lines: thin straight runs (at least THIN times as long as
    they are thick) that span the picture or are far longer than the marks that remain."""
    h, w = solid.shape
    lines = long_runs(solid, max(8, w // 4)) | long_runs(solid.T, max(8, h // 4)).T
    if not lines.any():
        return solid
    labels, _ = ndimage.label(lines, structure=np.ones((3, 3), bool))
    found = []
    for i, s in enumerate(ndimage.find_objects(labels)):
        own = labels[s] == i + 1
        along = max(s[0].stop - s[0].start, s[1].stop - s[1].start)
        if along >= THIN * own.sum() / along:  # thin: a line, not a digit's thick stroke
            flat = s[1].stop - s[1].start >= s[0].stop - s[0].start
            found.append((s, own, along, flat and along >= 0.95 * w))  # spans: ruled paper
    if not found:
        return solid
    lines = np.zeros_like(solid)
    for s, own, _along, _spans in found:
        lines[s] |= own
    rest = pieces(solid & ~lines)
    if not rest:  # nothing but lines: they are the marks (a 1, a 7's bar)
        return solid
    tallest = max(m.h for m in rest)
    for s, own, along, spans in found:
        if not spans and along < LINE * tallest:  # as long as a digit's bar: part of a digit
            lines[s] &= ~own
    return solid & ~lines


def _overlap(a0, a1, b0, b1) -> int:
    return min(a1, b1) - max(a0, b0)


def join_stacked(marks: list[Mark]) -> list[Mark]:
    """Join marks that sit one above the other: mostly the same columns, few of the same rows,
    and close (a gap of at most half the taller one's height)."""
    joined = True
    while joined:
        joined = False
        for i, a in enumerate(marks):
            for j in range(i + 1, len(marks)):
                b = marks[j]
                if (_overlap(a.x0, a.x1, b.x0, b.x1) >= 0.5 * min(a.w, b.w)
                        and -0.5 * max(a.h, b.h) <= _overlap(a.y0, a.y1, b.y0, b.y1)
                        <= 0.3 * min(a.h, b.h)):
                    marks[i] = a.join(b)
                    del marks[j]
                    joined = True
                    break
            if joined:
                break
    return marks


def digits_height(marks: list[Mark]) -> float:
    """The height of the digits: the tallest of the marks with most ink."""
    areas = np.array([m.mask.sum() for m in marks])
    return float(max(m.h for m, a in zip(marks, areas) if a >= 0.3 * areas.max()))


def _inside(piece: Mark, mark: Mark) -> bool:
    """Whether at least half of ``piece``'s box lies in ``mark``'s (a loop's broken top)."""
    return (max(0, _overlap(piece.x0, piece.x1, mark.x0, mark.x1))
            * max(0, _overlap(piece.y0, piece.y1, mark.y0, mark.y1))) >= 0.5 * piece.w * piece.h


def attach_pieces(marks: list[Mark], height: float) -> list[Mark]:
    """Full-height marks, each with the short pieces in or near it; specks and far pieces
    dropped."""
    full = [m for m in marks if m.h >= FULL * height]
    for piece in (m for m in marks if m.h < FULL * height):
        gaps = [max(0, f.x0 - piece.x1, piece.x0 - f.x1)
                + max(0, f.y0 - piece.y1, piece.y0 - f.y1) for f in full]
        home = [k for k, f in enumerate(full) if _inside(piece, f)]
        if not home and (piece.h < SPECK * height and piece.w < SPECK * height):
            continue  # a speck, a dot
        if not home and gaps and min(gaps) <= REACH * height:
            home = [int(np.argmin(gaps))]
        if home:
            full[home[0]] = full[home[0]].join(piece)
    return full


def find_marks(ink: np.ndarray) -> list[Mark]:
    """The digit-like marks of an ink map, left to right (a wide one may be several digits)."""
    marks = join_stacked(pieces(without_lines(ink > SOLID)))
    if not marks:
        return []
    marks = attach_pieces(marks, digits_height(marks))
    return sorted(marks, key=lambda m: m.x0 + m.x1)


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


def shape_score(part: Mark, height: int, digit: int, aspect_mean: float = 0.55,
                wide_spread: float = 0.2) -> float:
    """How much ``part`` looks like one digit by its shape alone (log scale, 0 = fully): the
    log of its width over its height is taken as normal around ``aspect_mean``, with spread
    ``wide_spread`` for wider and NARROW for narrower ones (a 1 may be as narrow as it likes);
    a part much shorter than the row is not a digit."""
    aspect = max(part.w, 1) / height
    spread = wide_spread if aspect > aspect_mean else NARROW if digit != 1 else np.inf
    score = -0.5 * (np.log(aspect / aspect_mean) / spread) ** 2
    return score - 3.0 * (part.h < FULL * height) - CUT


def readings(mark: Mark) -> tuple[int, list[tuple[int, int, Mark]]]:
    """(n, parts): the number of seams ``mark`` may be cut along (its two sides included),
    and the parts between any two of them, (i, j, part), that could be one digit."""
    sides = [np.zeros(mark.h, np.int64), np.full(mark.h, mark.w, np.int64)]
    edges = sides[:1] + (seams(mark) if mark.w > WIDE * mark.h else []) + sides[1:]
    parts = []
    for i in range(len(edges)):
        for j in range(i + 1, len(edges)):
            whole = (i, j) == (0, len(edges) - 1)
            if whole or np.median(edges[j] - edges[i]) <= 2.5 * mark.h:
                part = mark if whole else mark.between(edges[i], edges[j])
                if part is not None:
                    parts.append((i, j, part))
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
    flat = [part for _n, parts in options for _i, _j, part in parts]
    inputs = []
    for part in flat:
        try:
            inputs.append(digit_input(mark_ink(ink, solid, part)))
        except ImageError:  # no ink worth the name in this part
            inputs.append(np.zeros((1, 28, 28), np.float32))
    probs = classify(np.stack(inputs)) if inputs else np.zeros((0, 10), np.float32)
    read, k = [], 0
    mean, spread = (ASPECT, SPREAD) if len(marks) > 1 else (ASPECT_ALONE, SPREAD_ALONE)
    for mark, (n_edges, parts) in zip(marks, options):
        scores = [float(np.log(max(probs[k + n].max(), 1e-12)))
                  + shape_score(part, mark.h, int(probs[k + n].argmax()), mean, spread)
                  for n, (_i, _j, part) in enumerate(parts)]
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
    digits = []
    for mark, array, probs in read_marks(ink, marks, classify):
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
