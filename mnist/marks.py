"""An ink map -> its digit-like marks: pieces of solid ink, without ruled lines, specks and
dust, with the pieces of one digit joined (steps 1-3 of ``mnist.numbers``).

1. the solid ink (above SOLID) is the mask; straight runs much longer than the marks (the lines
   of ruled paper, an underline) are taken out of it;
2. its connected pieces (``scipy.ndimage.label``, 8-connected); tiny ones are dropped;
3. pieces stacked one above the other (a 5 whose bar stands apart) are joined; pieces shorter
   than the digits (a stroke broken by light) join their nearest full-height neighbour, or are
   dropped as specks, dots and dashes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

SOLID = 0.35       # ink above this is a mark's body
TINY = 0.02        # pieces with less area than this share of the largest one are dust
SPECK = 0.3        # marks this small both ways (x the digits' height) are specks
FULL = 0.62        # a mark this tall (x the digits' height) is a digit; a shorter one a piece
REACH = 0.3        # a piece joins a digit at most this far away (x the digits' height)
LINE = 3.0         # a straight run this many times the tallest mark is a ruled line
THIN = 10          # ... and a line is at least this many times as long as it is thick
STACKED = 0.3      # marks one above the other share this much of the narrower one's columns


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
    if all(_a_line_end(m, found, solid.shape) for m in rest):
        return solid  # nothing but lines and their ends: they are the marks (a 1, a 7's bar)
    tallest = max(m.h for m in rest)
    for s, own, along, spans in found:
        if not spans and along < LINE * tallest:  # as long as a digit's bar: part of a digit
            lines[s] &= ~own
    return solid & ~lines


def _a_line_end(piece: Mark, found, shape) -> bool:
    """Whether ``piece`` is the end of a stroke taken for a line (a lone slanted 1 whose middle
    is all long runs): it touches a line that does not span the picture and is at most twice
    as thick as that line."""
    y0, x0 = max(piece.y0 - 1, 0), max(piece.x0 - 1, 0)
    y1, x1 = min(piece.y1 + 1, shape[0]), min(piece.x1 + 1, shape[1])
    mine = np.zeros((y1 - y0, x1 - x0), bool)
    mine[piece.y0 - y0:piece.y1 - y0, piece.x0 - x0:piece.x1 - x0] = piece.mask
    mine = ndimage.binary_dilation(mine, np.ones((3, 3), bool))
    for s, own, along, spans in found:
        if spans or min(piece.w, piece.h) > 2 * own.sum() / along:
            continue
        top, bottom = max(s[0].start, y0), min(s[0].stop, y1)  # where the two boxes meet
        left, right = max(s[1].start, x0), min(s[1].stop, x1)
        if top < bottom and left < right and (
                own[top - s[0].start:bottom - s[0].start, left - s[1].start:right - s[1].start]
                & mine[top - y0:bottom - y0, left - x0:right - x0]).any():
            return True
    return False


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
                if (_overlap(a.x0, a.x1, b.x0, b.x1) >= STACKED * min(a.w, b.w)
                        and -0.5 * max(a.h, b.h) <= _overlap(a.y0, a.y1, b.y0, b.y1)
                        <= 0.3 * min(a.h, b.h)):
                    marks[i] = a.join(b)
                    del marks[j]
                    joined = True
                    break
            if joined:
                break
    return marks


def join_nested(marks: list[Mark]) -> list[Mark]:
    """Join each mark whose box lies wholly in another's: the rings of an outlined or shadowed
    typeface, a dot or bar inside a 0."""
    marks = sorted(marks, key=lambda m: m.w * m.h)  # smallest first
    i = 0
    while i < len(marks):
        a = marks[i]
        outer = [j for j, b in enumerate(marks) if j != i and b.x0 <= a.x0 and a.x1 <= b.x1
                 and b.y0 <= a.y0 and a.y1 <= b.y1]
        if outer:
            marks[outer[0]] = marks[outer[0]].join(a)  # the same box: still larger than the rest
            del marks[i]
        else:
            i += 1
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
    marks = join_nested(join_stacked(pieces(without_lines(ink > SOLID))))
    if not marks:
        return []
    marks = attach_pieces(marks, digits_height(marks))
    return sorted(marks, key=lambda m: m.x0 + m.x1)
