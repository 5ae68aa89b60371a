"""Line chart: one or more series over a shared x axis of datetimes, dates or labels (:func:`line_chart`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext_noop

from livestreams.templatetags.data_format import is_english

from .axes import (
    MAX_X_LABELS,
    Tick,
    date_ticks,
    keep_inside,
    label_tick_indexes,
    local_datetime,
    margin_for,
    tick_labels,
    time_ticks,
    value_axis,
    value_ticks,
    x_label_room,
    x_offsets,
    x_title,
)
from .frame import HEIGHT, WIDTH, Chart, Frame
from .line_data import MAX_POINTS, Points, Series, read_points
from .paths import area_path, line_path
from .scales import LinearScale, rounded, ticks_with_intervals
from .text import format_value, no_data_text, text_width, tr

MAX_HOVERS = 60


@dataclass
class DrawnSeries:
    label: str
    color: int
    fmt: str
    axis: str
    path: str
    area_path: str = ""
    peak: dict | None = None
    last: dict | None = None
    total_points: int = 0
    axis_note: str = ""

    @property
    def css(self) -> str:
        return f"c{self.color}"


@dataclass
class Hover:
    x: float
    width: float
    guide_x: float
    title: str
    dots: list[dict] = field(default_factory=list)


@dataclass(kw_only=True)
class LineChart(Chart):
    y_ticks: list[Tick]
    y2_ticks: list[Tick]
    x_ticks: list[Tick]
    series: list[DrawnSeries]
    hovers: list[Hover]
    drawn_points: int = 0
    source_points: int = 0


def line_chart(
    points: Iterable,
    *,
    series: Sequence,
    x: object = "x",
    width: float = WIDTH,
    height: float = HEIGHT,
    max_points: int = MAX_POINTS,
    max_hovers: int = MAX_HOVERS,
    title: str = "",
) -> LineChart:
    """Curves of one or more series over a shared x axis (datetimes, dates or labels).

    ``points``: rows — mappings (``row[x]``, ``row[series.key]``), tuples ``(x, v1, v2, …)`` or
    objects (attributes ``x`` and ``series.key``); in x order. ``series``: :class:`Series`, dicts
    with its fields, ``(key, label, …)`` tuples or bare keys. Long inputs are thinned to
    ``max_points`` (bucket max or mean, per series); ``max_hovers`` points carry a hover title.
    """
    specs = [Series.coerce(spec, i) for i, spec in enumerate(series)] or [Series.coerce("value", 0)]
    data = read_points(points, specs, x, max_points)
    axes = _YAxes.for_series(specs, data.columns)
    label_room = _x_label_room(data)
    frame = _line_frame(width, height, axes, label_room)
    y_scale, y_ticks = value_axis(axes.ticks, axes.labels, frame, "end")
    y2_scale, y2_ticks = value_axis(axes.ticks2, axes.labels2, frame, "start") if axes.ticks2 else (y_scale, [])
    x_scale, px = _x_positions(data, frame)
    x_ticks = [] if data.empty else _x_ticks(data, x_scale, px, frame, label_room)
    scaled = [  # without a right axis, y2_scale is y_scale
        [None if v is None else (y2_scale if spec.axis == "right" else y_scale)(v) for v in column]
        for spec, column in zip(specs, data.columns, strict=True)
    ]
    drawn = [
        _draw_series(spec, column, px, ys, frame, empty=data.empty, right_axis=bool(axes.ticks2))
        for spec, column, ys in zip(specs, data.columns, scaled, strict=True)
    ]
    return LineChart(
        frame=frame,
        title=title or _line_title(specs),
        desc=no_data_text() if data.empty else _line_desc(data, specs),
        empty=data.empty,
        y_ticks=y_ticks,
        y2_ticks=y2_ticks,
        x_ticks=x_ticks,
        series=drawn,
        hovers=[] if data.empty else _hovers(data, specs, scaled, px, frame, max_hovers),
        drawn_points=len(px),
        source_points=data.source_points,
    )


# --------------------------------------------------------------------------------------------------
# Axes and frame


@dataclass
class _YAxes:
    """Tick values and labels of the left axis and, when series sit on both sides, the right axis."""

    ticks: list
    labels: list[str]
    ticks2: list
    labels2: list[str]

    @classmethod
    def for_series(cls, specs: Sequence[Series], columns: Sequence[Sequence[float | None]]) -> _YAxes:
        pairs = list(zip(specs, columns, strict=True))
        left_values = [v for s, c in pairs if s.axis == "left" for v in c]
        right_values = [v for s, c in pairs if s.axis == "right" for v in c]
        left_fmt = next((s.fmt for s in specs if s.axis == "left"), "number")
        right_fmt = next((s.fmt for s in specs if s.axis == "right"), "number")
        # Right-only series are drawn on the left axis.
        ticks = value_ticks(left_values if left_values else right_values, integer=left_fmt in ("number", "duration"))
        ticks2 = []
        if left_values and right_values:
            high = max((v for v in right_values if v is not None), default=0)
            ticks2 = ticks_with_intervals(high, len(ticks) - 1)
        labels = tick_labels(ticks, left_fmt if left_values else right_fmt)
        return cls(ticks, labels, ticks2, tick_labels(ticks2, right_fmt))


def _x_label_room(data: Points) -> float:
    """The width an x label needs: a sample ``00:00`` / ``00-00``, or the widest of the first 50 labels."""
    sample = "00:00" if data.kind == "datetime" else ("00-00" if data.kind == "date" else "")
    return x_label_room([sample] if sample else [str(v) for v in data.xs[:50]])


def _line_frame(width: float, height: float, axes: _YAxes, label_room: float) -> Frame:
    """Margins for the tick labels; without a right axis, room for half of the last x label."""
    return Frame(
        width=width,
        height=height,
        left=margin_for(axes.labels, 34),
        right=margin_for(axes.labels2, 0) if axes.labels2 else max(18, label_room / 2),
        top=22,
        bottom=26,
    )


def _x_positions(data: Points, frame: Frame) -> tuple[LinearScale, list[float]]:
    offsets = x_offsets(data.xs, data.kind) if data.xs else []
    x_scale = LinearScale(offsets[0] if offsets else 0, offsets[-1] if offsets else 1, frame.x0, frame.x1)
    return x_scale, [x_scale(o) for o in offsets]


def _x_ticks(data: Points, x_scale: LinearScale, px: Sequence[float], frame: Frame, label_room: float) -> list[Tick]:
    xs = data.xs
    max_labels = max(2, min(MAX_X_LABELS, int(frame.plot_width // label_room)))
    if data.kind == "datetime":
        ticks = time_ticks(xs, x_scale, max_labels)
    elif data.kind == "date":
        ticks = [Tick(x_scale((d - xs[0]).days), d.strftime("%m-%d"), d) for d in date_ticks(xs[0], xs[-1], max_labels)]
    else:
        ticks = [Tick(px[i], str(xs[i]), xs[i]) for i in label_tick_indexes(len(xs), max_labels)]
    keep_inside(ticks, frame.width)
    return ticks


# --------------------------------------------------------------------------------------------------
# Series, peaks and hovers


def _draw_series(
    spec: Series, column: Sequence, px: Sequence[float], ys: Sequence, frame: Frame, *, empty: bool, right_axis: bool
) -> DrawnSeries:
    pts = list(zip(px, ys, strict=True))
    item = DrawnSeries(
        label=spec.label,
        color=spec.color,
        fmt=spec.fmt,
        axis=spec.axis,
        path="" if empty else line_path(pts),
        area_path=area_path(pts, frame.y1) if spec.area and not empty else "",
        total_points=sum(v is not None for v in column),
        axis_note=tr(gettext_noop("右轴"), "right axis") if spec.axis == "right" and right_axis else "",
    )
    present = [(v, i) for i, v in enumerate(column) if v is not None]
    if present and not empty:
        peak_value, peak_index = max(present, key=lambda p: (p[0], -p[1]))  # the first of equal highs
        if spec.peak and peak_value > 0:
            item.peak = _peak_mark(spec, peak_value, px[peak_index], ys[peak_index], frame)
        last_value, last_index = present[-1]
        item.last = {"x": px[last_index], "y": ys[last_index], "value": format_value(last_value, spec.fmt)}
    return item


def _peak_mark(spec: Series, value: float, x: float, y: float, frame: Frame) -> dict:
    """The peak's dot and its "峰值 …" label: right of the dot, or left of it near the right edge."""
    label = tr(gettext_noop("峰值 {value}"), "Peak {value}").format(value=format_value(value, spec.fmt))
    room = text_width(label) + 10
    anchor = "end" if x + room > frame.x1 + frame.right - 4 else "start"
    return {
        "x": x,
        "y": y,
        "label": label,
        "anchor": anchor,
        "tx": rounded(x + (-7 if anchor == "end" else 7)),
        "ty": rounded(max(y - 6, 12)),
    }


def _hover_indexes(count: int, max_hovers: int) -> list[int]:
    """At most ``max_hovers`` evenly spaced points; the latest point always has a title."""
    step = max(1, math.ceil(count / max(1, max_hovers)))
    chosen = list(range(0, count, step))
    if chosen[-1] != count - 1:
        if len(chosen) >= max_hovers:
            chosen[-1] = count - 1
        else:
            chosen.append(count - 1)
    return chosen


def _hovers(
    data: Points, specs: Sequence[Series], scaled: Sequence, px: Sequence[float], frame: Frame, max_hovers: int
) -> list[Hover]:
    """A hover band per chosen point, reaching halfway to its neighbours, with every series' value."""
    first, last = data.xs[0], data.xs[-1]
    multi_day = data.kind == "datetime" and local_datetime(first).date() != local_datetime(last).date()
    chosen = _hover_indexes(len(px), max_hovers)
    hovers = []
    for position, index in enumerate(chosen):
        left = frame.x0 if position == 0 else (px[chosen[position - 1]] + px[index]) / 2
        right = frame.x1 if position == len(chosen) - 1 else (px[index] + px[chosen[position + 1]]) / 2
        lines = [x_title(data.xs[index], data.kind, with_date=multi_day)]
        dots = []
        for spec, column, ys in zip(specs, data.columns, scaled, strict=True):
            lines.append(f"{spec.label} {format_value(column[index], spec.fmt)}")
            if ys[index] is not None:
                dots.append({"cy": ys[index], "css": f"c{spec.color}"})
        hovers.append(Hover(rounded(left), rounded(max(right - left, 1)), px[index], "\n".join(lines), dots))
    return hovers


# --------------------------------------------------------------------------------------------------
# Title and description


def _line_title(specs: Sequence[Series]) -> str:
    names = "、".join(s.label for s in specs) if not is_english() else ", ".join(s.label for s in specs)
    return tr(gettext_noop("{names}趋势"), "{names} over time").format(names=names)


def _line_desc(data: Points, specs: Sequence[Series]) -> str:
    """The time span, then each series' highest and latest value."""
    span = f"{x_title(data.xs[0], data.kind)} – {x_title(data.xs[-1], data.kind)}"
    parts = []
    for spec, column in zip(specs, data.columns, strict=True):
        present = [v for v in column if v is not None]
        if present:
            parts.append(
                tr(gettext_noop("{label}最高 {max}，最新 {last}"), "{label}: max {max}, latest {last}").format(
                    label=spec.label,
                    max=format_value(max(present), spec.fmt),
                    last=format_value(present[-1], spec.fmt),
                )
            )
    return f"{span}：" + "；".join(parts) if not is_english() else f"{span}: " + "; ".join(parts)
