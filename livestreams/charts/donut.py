"""Donut: ring segments for shares of a whole, the largest one in the centre (:func:`donut`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext_noop

from livestreams.templatetags.data_format import format_percent

from .frame import PALETTE_SIZE, Chart, Frame
from .rows import share_rows
from .scales import rounded
from .text import join_clauses, no_data_text, share_title, tr, truncate

GAP = 0.012  # radians trimmed from each end of a slice
MARGIN = 4  # between the ring and the edge of the square viewBox


@dataclass
class Slice:
    label: str
    share: float
    share_text: str
    path: str
    color: int
    title: str
    extra: object = None


@dataclass(kw_only=True)
class DonutChart(Chart):
    """A square frame (``frame.width`` = ``frame.height`` = size); the ring is centred in it."""

    radius: float
    inner: float
    slices: list[Slice]
    center_value: str
    center_label: str

    @property
    def track_radius(self) -> float:
        return rounded((self.radius + self.inner) / 2)

    @property
    def track_width(self) -> float:
        return rounded(self.radius - self.inner)

    @property
    def center_label_text(self) -> str:
        return truncate(self.center_label, self.inner * 1.6, 12)


def donut(
    shares: Iterable,
    *,
    size: float = 200,
    thickness: float = 0.32,
    normalize: bool | None = True,
    title: str = "",
    center_label: str = "",
) -> DonutChart:
    """Arc paths of a donut for ``(label, share)`` rows (mappings with label/value work too).

    Shares are normalised to their sum by default (counts or fractions both work); zero slices get no
    path but stay in the legend at 0 %, one slice of everything is drawn as a full ring. The centre
    shows the largest slice (or ``center_label`` over the largest share).
    """
    rows = share_rows(shares, normalize)
    frame = Frame(size, size, MARGIN, MARGIN, MARGIN, MARGIN)
    radius = rounded(size / 2 - MARGIN)
    inner = rounded(radius * (1 - thickness))
    total = sum(share for _label, share, _extra in rows)
    empty = total <= 0
    fractions = [share / total if total else 0.0 for _label, share, _extra in rows]
    drawn_count = sum(1 for _label, share, _extra in rows if share > 0)
    paths = _slice_paths(fractions, drawn_count, frame, radius, inner)
    slices = []
    for i, ((label, share, extra), fraction, path) in enumerate(zip(rows, fractions, paths, strict=True)):
        share_text = format_percent(fraction if normalize is not False else share)
        slices.append(Slice(label, fraction, share_text, path, i % PALETTE_SIZE, share_title(label, share_text, extra)))
    leader = max(slices, key=lambda s: s.share) if slices and not empty else None
    return DonutChart(
        frame=frame,
        title=title or tr(gettext_noop("占比"), "Shares"),
        desc=no_data_text() if empty else join_clauses(s.title for s in slices),
        empty=empty,
        radius=radius,
        inner=inner,
        slices=slices,
        center_value=leader.share_text if leader else "",
        center_label=center_label or (leader.label if leader else ""),
    )


def _slice_paths(fractions: Sequence[float], drawn_count: int, frame: Frame, radius: float, inner: float) -> list[str]:
    """Clockwise from the top, one ring segment per non-zero fraction ("" for a zero one)."""
    paths, angle = [], 0.0
    for fraction in fractions:
        path = ""
        if fraction > 0:
            end = min(angle + fraction * 2 * math.pi, 2 * math.pi)
            # A small gap between neighbouring slices, unless the slice is too thin to lose it.
            pad = GAP if drawn_count > 1 and end - angle > 4 * GAP else 0.0
            path = arc_path(frame.center_x, frame.center_y, radius, inner, angle + pad, end - pad)
            angle = end
        paths.append(path)
    return paths


def _point(cx: float, cy: float, radius: float, angle: float) -> str:
    """The point at ``angle`` (radians, 0 = top, clockwise) as ``x,y``."""
    x = cx + radius * math.sin(angle)
    y = cy - radius * math.cos(angle)
    return f"{rounded(x):g},{rounded(y):g}"


def ring_path(cx: float, cy: float, outer: float, inner: float) -> str:
    """A full ring (two half arcs per circle; draw with ``fill-rule="evenodd"``)."""
    top_o, bottom_o = f"{cx:g},{rounded(cy - outer):g}", f"{cx:g},{rounded(cy + outer):g}"
    top_i, bottom_i = f"{cx:g},{rounded(cy - inner):g}", f"{cx:g},{rounded(cy + inner):g}"
    return (
        f"M{top_o} A{outer:g},{outer:g} 0 1 1 {bottom_o} A{outer:g},{outer:g} 0 1 1 {top_o} Z "
        f"M{top_i} A{inner:g},{inner:g} 0 1 0 {bottom_i} A{inner:g},{inner:g} 0 1 0 {top_i} Z"
    )


def arc_path(cx: float, cy: float, outer: float, inner: float, start: float, end: float) -> str:
    """A ring segment from ``start`` to ``end`` (radians, clockwise from the top)."""
    if end - start >= 2 * math.pi - 1e-9:
        return ring_path(cx, cy, outer, inner)
    large = 1 if end - start > math.pi else 0
    return (
        f"M{_point(cx, cy, outer, start)} A{outer:g},{outer:g} 0 {large} 1 {_point(cx, cy, outer, end)} "
        f"L{_point(cx, cy, inner, end)} A{inner:g},{inner:g} 0 {large} 0 {_point(cx, cy, inner, start)} Z"
    )
