"""Chart geometry for server-rendered inline SVG.

Plain numbers (int, float, Decimal, None), dates, datetimes and labels go in; dataclasses of
ready-to-draw coordinates, SVG path strings and formatted labels come out. Nothing here touches the
database; the templates in ``templates/livestreams/charts/`` draw the result and the inclusion tags
in ``livestreams.templatetags.charts`` tie the two together.

Every builder returns a chart with ``empty=True`` (and a "暂无数据" text) when there is nothing to
draw — no rows, or only zeros — and never divides by zero. Coordinates are rounded to 0.1 so the
SVG stays small.

Public builders: :func:`line_chart`, :func:`bar_line_chart`, :func:`funnel`, :func:`donut`,
:func:`share_bars`; helpers :func:`nice_ticks` and :class:`LinearScale`.
"""

from __future__ import annotations

import math
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import get_language, gettext, gettext_noop

from livestreams.templatetags.data_format import (
    format_compact,
    format_duration,
    format_money,
    format_percent,
    is_english,
    to_decimal,
)

WIDTH = 720
HEIGHT = 240
PALETTE_SIZE = 8
FONT_SIZE = 12
MAX_POINTS = 240
MAX_HOVERS = 60
MAX_X_LABELS = 12
DONUT_GAP = 0.012  # radians trimmed from each end of a donut slice
FORMATS = ("number", "money", "percent", "duration")

# Plain "nice" multipliers: ticks step by 1, 2 or 5 × 10ⁿ.
NICE_MULTIPLIERS = (1, 2, 5)
# Steps (minutes) for time axes: round clock times.
TIME_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440)


# --------------------------------------------------------------------------------------------------
# Small helpers


def _tr(msgid: str, english: str) -> str:
    """gettext, with a built-in English fallback while the catalog has no entry yet."""
    translated = gettext(msgid)
    if translated == msgid and is_english(get_language()):
        return english
    return translated


def new_chart_id(prefix: str = "chart") -> str:
    """A DOM id that stays unique on a page, also across HTMX fragments rendered by other workers."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _r(value: float) -> float:
    """Round a coordinate to 0.1; whole numbers become ints so the SVG reads ``16``, not ``16.0``."""
    rounded = round(float(value), 1)
    return int(rounded) if rounded.is_integer() else rounded


def _num(value) -> float | None:
    number = to_decimal(value)
    return None if number is None else float(number)


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Approximate rendered width of ``text`` in px: CJK and full-width glyphs are square, others ~0.6em."""
    width = 0.0
    for char in str(text):
        if unicodedata.east_asian_width(char) in ("W", "F"):
            width += size
        elif char in "il.,:;|!'":
            width += size * 0.32
        elif char in "MW%@mw¥":
            width += size * 0.85
        else:
            width += size * 0.6
    return width


def truncate(text: str, max_width: float, size: float = FONT_SIZE) -> str:
    """``text`` cut to ``max_width`` px with an ellipsis."""
    text = str(text)
    if text_width(text, size) <= max_width:
        return text
    while text and text_width(text + "…", size) > max_width:
        text = text[:-1]
    return text + "…"


def _strip_zeros(text: str) -> str:
    """``"20.0"`` → ``"20"``, ``"0.50"`` → ``"0.5"``; integers stay as they are (``"100"``)."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def _clean(number: Decimal) -> Decimal:
    """A tick value without exponent noise: ``Decimal("2E+4")`` → ``Decimal(20000)``."""
    if number == number.to_integral_value():
        return Decimal(int(number))
    return number.normalize()


def format_value(value, fmt: str = "number") -> str:
    """A value for hover titles and legends: exact for small numbers, compact above 万 / a million."""
    if fmt == "money":
        return format_money(value)
    if fmt == "percent":
        return format_percent(value)
    if fmt == "duration":
        return format_duration(value)
    number = to_decimal(value)
    if number is not None and abs(number) < 10_000:
        return _strip_zeros(format(number, ",.2f"))
    return format_compact(value)


def axis_label(value, fmt: str = "number") -> str:
    """A short tick label: ``5万`` / ``¥50万`` (zh-hans), ``50K`` / ``¥1.2M`` (en), ``20%``."""
    if fmt == "percent":
        number = to_decimal(value) or Decimal(0)
        return _strip_zeros(format(number * 100, "f")) + "%"
    if fmt == "duration":
        return format_duration(value)
    number = to_decimal(value) or Decimal(0)
    if is_english() and 1_000 <= abs(number) < 1_000_000:
        text = _strip_zeros(format(number / 1000, "f")) + "K"
    else:
        text = format_compact(number)
    return f"¥{text}" if fmt == "money" and number else text


def local_datetime(value: datetime) -> datetime:
    """Aware datetimes in the current time zone (Asia/Shanghai); naive ones as they are."""
    return timezone.localtime(value) if timezone.is_aware(value) else value


def pick(row, key, position: int):
    """Read ``key`` from a mapping, ``position`` from a sequence, or the attribute ``key`` of an object."""
    if isinstance(row, Mapping):
        return row.get(key)
    if isinstance(row, Sequence) and not isinstance(row, str):
        return row[position] if position < len(row) else None
    return getattr(row, str(key), None)


# --------------------------------------------------------------------------------------------------
# Ticks and scales


def nice_step(raw: float) -> Decimal:
    """The smallest 1/2/5 × 10ⁿ step that is ≥ ``raw`` (raw > 0)."""
    exponent = math.floor(math.log10(raw))
    for multiplier in (*NICE_MULTIPLIERS, 10):
        step = Decimal(multiplier).scaleb(exponent)
        if step >= Decimal(repr(raw)) * (1 - Decimal("1e-9")):
            return _clean(step)
    return _clean(Decimal(10).scaleb(exponent))  # pragma: no cover - the loop always returns


def nice_ticks(low, high, *, max_ticks: int = 6, min_ticks: int = 4, integer: bool = False) -> list[Decimal]:
    """Evenly spaced round tick values covering ``[low, high]``, from 0 whenever the data is ≥ 0.

    The step is 1, 2 or 5 × 10ⁿ; the result has ``min_ticks`` … ``max_ticks`` values (4–6).
    ``integer=True`` keeps the step ≥ 1 (counts). ``nice_ticks(0, 0)`` is ``[0, 1, 2, 3, 4]``.
    """
    low = min(_num(low) or 0.0, 0.0)
    high = max(_num(high) or 0.0, 0.0)
    if high - low <= 0:
        return [Decimal(v) for v in range(5)]
    intervals_max = max_ticks - 1
    step = nice_step((high - low) / intervals_max)
    if integer and step < 1:
        step = Decimal(1)
    while True:
        start = math.floor(Decimal(repr(low)) / step)
        stop = math.ceil(Decimal(repr(high)) / step)
        if stop - start <= intervals_max:
            break
        step = nice_step(float(step) * 1.01)
    intervals = max(stop - start, min_ticks - 1)
    return [_clean((start + i) * step) for i in range(intervals + 1)]


def ticks_with_intervals(high, intervals: int, *, integer: bool = False) -> list[Decimal]:
    """``intervals + 1`` round ticks from 0 covering ``high`` — a secondary axis aligned to the first."""
    high = max(_num(high) or 0.0, 0.0)
    if high <= 0:
        return [Decimal(i) for i in range(intervals + 1)]
    step = nice_step(high / intervals)
    if integer and step < 1:
        step = Decimal(1)
    return [_clean(step * i) for i in range(intervals + 1)]


@dataclass(frozen=True)
class LinearScale:
    """Maps the domain ``[d0, d1]`` linearly onto the range ``[r0, r1]`` (a flat domain maps to the middle)."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value) -> float:
        value = float(value)
        if self.d1 == self.d0:
            return _r((self.r0 + self.r1) / 2)
        return _r(self.r0 + (value - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0))


@dataclass
class Tick:
    pos: float
    label: str
    value: object = None
    anchor: str = "middle"


@dataclass
class Frame:
    """The SVG viewBox and the plot rectangle inside its margins."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float

    @property
    def x0(self) -> float:
        return _r(self.left)

    @property
    def x1(self) -> float:
        return _r(self.width - self.right)

    @property
    def y0(self) -> float:
        return _r(self.top)

    @property
    def y1(self) -> float:
        return _r(self.height - self.bottom)

    @property
    def plot_width(self) -> float:
        return _r(self.x1 - self.x0)

    @property
    def plot_height(self) -> float:
        return _r(self.y1 - self.y0)

    @property
    def cx(self) -> float:
        return _r((self.x0 + self.x1) / 2)

    @property
    def y_label_x(self) -> float:
        """Where the left axis' labels end."""
        return _r(self.x0 - 7)

    @property
    def y2_label_x(self) -> float:
        """Where the right axis' labels start."""
        return _r(self.x1 + 7)

    @property
    def x_label_y(self) -> float:
        """Baseline of the x axis' labels."""
        return _r(self.y1 + 17)

    @property
    def cy(self) -> float:
        return _r((self.y0 + self.y1) / 2)


def _y_axis(values: Iterable[float | None], *, integer: bool) -> list[Decimal]:
    present = [v for v in values if v is not None]
    return nice_ticks(min(present, default=0), max(present, default=0), integer=integer)


def _tick_labels(ticks: Sequence[Decimal], fmt: str) -> list[str]:
    return [axis_label(t, fmt) for t in ticks]


def _margin_for(labels: Sequence[str], minimum: float) -> float:
    return max(minimum, max((text_width(label) for label in labels), default=0) + 12)


def _x_label_room(labels: Sequence[str]) -> float:
    return max((text_width(label) for label in labels), default=30) + 14


# --------------------------------------------------------------------------------------------------
# x axes: datetimes, dates, labels


def _x_kind(xs: Sequence) -> str:
    if xs and all(isinstance(x, datetime) for x in xs):
        return "datetime"
    if xs and all(isinstance(x, date) and not isinstance(x, datetime) for x in xs):
        return "date"
    return "label"


def _x_offsets(xs: Sequence, kind: str) -> list[float]:
    """Positions along the x domain: seconds for datetimes, days for dates, the index for labels."""
    if kind == "datetime":
        first = xs[0]
        return [(x - first).total_seconds() for x in xs]
    if kind == "date":
        first = xs[0]
        return [float((x - first).days) for x in xs]
    return [float(i) for i in range(len(xs))]


def _x_title(x, kind: str, with_date: bool = True) -> str:
    if kind == "datetime":
        local = local_datetime(x)
        return local.strftime("%m-%d %H:%M" if with_date else "%H:%M")
    if kind == "date":
        return x.isoformat()
    return str(x)


def _time_ticks(xs: Sequence[datetime], scale: LinearScale, max_labels: int) -> list[Tick]:
    """Round clock times (HH:MM, local time) between the first and last datetime."""
    first, last = local_datetime(xs[0]), local_datetime(xs[-1])
    span = (last - first).total_seconds() / 60
    step = next((s for s in TIME_STEPS if span / s + 1 <= max_labels), TIME_STEPS[-1])
    midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = math.ceil((first - midnight).total_seconds() / 60 / step) * step
    ticks = []
    tick = midnight + timedelta(minutes=minutes)
    crosses_days = first.date() != last.date()
    while tick <= last and len(ticks) <= max_labels:
        at_midnight = tick.hour == 0 and tick.minute == 0
        label = tick.strftime("%m-%d") if at_midnight and crosses_days else tick.strftime("%H:%M")
        ticks.append(Tick(scale((tick - first).total_seconds()), label, tick))
        tick += timedelta(minutes=step)
    if not ticks:  # a span shorter than a step: label the first point
        ticks.append(Tick(scale(0), first.strftime("%H:%M"), first))
    return ticks


def _date_ticks(first: date, last: date, max_labels: int) -> list[date]:
    """Which dates get an MM-DD label: every day, every k-th day (whole weeks when k > 4), or month starts."""
    n = (last - first).days + 1
    if n <= max_labels:
        k = 1
    elif n <= 120:
        k = math.ceil(n / max_labels)
        if k > 4:
            k = math.ceil(k / 7) * 7
    else:
        starts, month = [], date(first.year, first.month, 1)
        while month <= last:
            if month >= first:
                starts.append(month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        return starts[:: math.ceil(len(starts) / max_labels)] if starts else [first]
    return [first + timedelta(days=i) for i in range(0, n, k)]


def _label_tick_indexes(n: int, max_labels: int) -> list[int]:
    if n <= max_labels:
        return list(range(n))
    k = math.ceil(n / max_labels)
    return list(range(0, n, k))


# --------------------------------------------------------------------------------------------------
# Line chart


@dataclass
class Series:
    """One line of a line chart.

    ``key``: the mapping key / attribute of the value in each row (or, for tuple rows, ignored —
    series *i* reads ``row[i + 1]``). ``fmt``: number, money, percent or duration. ``axis``: left or
    right (a second y axis). ``area``: fill under the line. ``color``: palette index 0–7 (defaults
    to the series' position). ``agg``: max or avg — how a bucket of points is merged when a long
    series is thinned. ``peak``: mark and label the highest point.
    """

    key: object = "value"
    label: str = ""
    fmt: str = "number"
    axis: str = "left"
    area: bool = False
    color: int | None = None
    agg: str = "max"
    peak: bool = False

    @classmethod
    def coerce(cls, spec, position: int) -> Series:
        if isinstance(spec, Series):
            series = spec
        elif isinstance(spec, Mapping):
            series = cls(**{k: v for k, v in spec.items() if k in cls.__dataclass_fields__})
        elif isinstance(spec, (tuple, list)):
            series = cls(*spec)
        else:
            series = cls(key=spec)
        if series.fmt not in FORMATS:
            series.fmt = "number"
        if series.axis not in ("left", "right"):
            series.axis = "left"
        if series.color is None:
            series.color = position % PALETTE_SIZE
        series.color = int(series.color) % PALETTE_SIZE
        if not series.label:
            series.label = str(series.key)
        return series


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


@dataclass
class LineChart:
    frame: Frame
    title: str
    desc: str
    empty: bool
    empty_text: str
    y_ticks: list[Tick]
    y2_ticks: list[Tick]
    x_ticks: list[Tick]
    series: list[DrawnSeries]
    hovers: list[Hover]
    drawn_points: int = 0
    source_points: int = 0
    id: str = ""

    @property
    def width(self):
        return self.frame.width

    @property
    def height(self):
        return self.frame.height


def downsample(xs: Sequence, columns: Sequence[Sequence[float | None]], aggs: Sequence[str], limit: int):
    """Merge runs of consecutive points so at most ``limit`` remain.

    Each bucket keeps its first x and, per column, the max (keeps peaks) or the mean of its values.
    Returns ``(xs, columns)`` unchanged when there are ``limit`` points or fewer.
    """
    n = len(xs)
    if limit < 1 or n <= limit:
        return list(xs), [list(c) for c in columns]
    size = math.ceil(n / limit)
    new_xs = [xs[i] for i in range(0, n, size)]
    new_columns = []
    for column, agg in zip(columns, aggs, strict=True):
        merged = []
        for i in range(0, n, size):
            bucket = [v for v in column[i : i + size] if v is not None]
            if not bucket:
                merged.append(None)
            elif agg == "avg":
                merged.append(sum(bucket) / len(bucket))
            else:
                merged.append(max(bucket))
        new_columns.append(merged)
    return new_xs, new_columns


def _path(points: Sequence[tuple[float, float | None]]) -> str:
    """``M x,y L x,y …``; a None value breaks the line."""
    parts, pen_down = [], False
    for x, y in points:
        if y is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:g},{y:g}")
        pen_down = True
    return " ".join(parts)


def _area_path(points: Sequence[tuple[float, float | None]], baseline: float) -> str:
    drawn = [(x, y) for x, y in points if y is not None]
    if not drawn:
        return ""
    line = " ".join(f"{'L' if i else 'M'}{x:g},{y:g}" for i, (x, y) in enumerate(drawn))
    return f"{line} L{drawn[-1][0]:g},{baseline:g} L{drawn[0][0]:g},{baseline:g} Z"


def _no_data_text() -> str:
    return _tr(gettext_noop("暂无数据"), "No data")


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
    rows = list(points)
    xs = [pick(row, x, 0) for row in rows]
    columns = [[_num(pick(row, s.key, i + 1)) for row in rows] for i, s in enumerate(specs)]
    keep = [i for i, value in enumerate(xs) if value is not None]
    xs = [xs[i] for i in keep]
    columns = [[column[i] for i in keep] for column in columns]
    source_points = len(xs)
    kind = _x_kind(xs)
    xs, columns = downsample(xs, columns, [s.agg for s in specs], max_points)

    left_values = [v for s, c in zip(specs, columns, strict=True) if s.axis == "left" for v in c]
    right_values = [v for s, c in zip(specs, columns, strict=True) if s.axis == "right" for v in c]
    left_fmt = next((s.fmt for s in specs if s.axis == "left"), "number")
    right_fmt = next((s.fmt for s in specs if s.axis == "right"), "number")
    empty = not xs or all(not v for column in columns for v in column)

    left_integer = left_fmt in ("number", "duration")
    y_values = left_values if left_values else right_values
    ticks = _y_axis(y_values, integer=left_integer)
    ticks2 = []
    if left_values and right_values:
        ticks2 = ticks_with_intervals(max((v for v in right_values if v is not None), default=0), len(ticks) - 1)
    labels = _tick_labels(ticks, left_fmt if left_values else right_fmt)
    labels2 = _tick_labels(ticks2, right_fmt)

    sample_x_label = "00:00" if kind == "datetime" else ("00-00" if kind == "date" else "")
    label_room = _x_label_room([sample_x_label] if sample_x_label else [str(v) for v in xs[:50]])
    frame = Frame(
        width=width,
        height=height,
        left=_margin_for(labels, 34),
        right=_margin_for(labels2, 0) if labels2 else max(18, label_room / 2),
        top=22,
        bottom=26,
    )
    y_scale = LinearScale(float(ticks[0]), float(ticks[-1]), frame.y1, frame.y0)
    y2_scale = LinearScale(float(ticks2[0]), float(ticks2[-1]), frame.y1, frame.y0) if ticks2 else y_scale
    y_ticks = [Tick(y_scale(t), label, t, "end") for t, label in zip(ticks, labels, strict=True)]
    y2_ticks = [Tick(y2_scale(t), label, t, "start") for t, label in zip(ticks2, labels2, strict=True)]

    offsets = _x_offsets(xs, kind) if xs else []
    x_scale = LinearScale(offsets[0] if offsets else 0, offsets[-1] if offsets else 1, frame.x0, frame.x1)
    px = [x_scale(o) for o in offsets]
    max_labels = max(2, min(MAX_X_LABELS, int(frame.plot_width // label_room)))
    if empty or not xs:
        x_ticks = []
    elif kind == "datetime":
        x_ticks = _time_ticks(xs, x_scale, max_labels)
    elif kind == "date":
        x_ticks = [
            Tick(x_scale((d - xs[0]).days), d.strftime("%m-%d"), d) for d in _date_ticks(xs[0], xs[-1], max_labels)
        ]
    else:
        x_ticks = [Tick(px[i], str(xs[i]), xs[i]) for i in _label_tick_indexes(len(xs), max_labels)]
    for tick in x_ticks:  # keep edge labels inside the viewBox
        half = text_width(tick.label) / 2
        if tick.pos - half < 2:
            tick.anchor = "start"
        elif tick.pos + half > width - 2:
            tick.anchor = "end"

    drawn, scaled_columns = [], []
    for spec, column in zip(specs, columns, strict=True):
        scale = y2_scale if spec.axis == "right" and ticks2 else y_scale
        ys = [None if v is None else scale(v) for v in column]
        scaled_columns.append(ys)
        pts = list(zip(px, ys, strict=True))
        item = DrawnSeries(
            label=spec.label,
            color=spec.color,
            fmt=spec.fmt,
            axis=spec.axis,
            path="" if empty else _path(pts),
            area_path=_area_path(pts, frame.y1) if spec.area and not empty else "",
            total_points=sum(v is not None for v in column),
            axis_note=_tr(gettext_noop("右轴"), "right axis") if spec.axis == "right" and ticks2 else "",
        )
        present = [(v, i) for i, v in enumerate(column) if v is not None]
        if present and not empty:
            peak_value, peak_index = max(present, key=lambda p: (p[0], -p[1]))
            if spec.peak and peak_value > 0:
                label = _tr(gettext_noop("峰值 {value}"), "Peak {value}").format(
                    value=format_value(peak_value, spec.fmt)
                )
                peak_x, peak_y = px[peak_index], ys[peak_index]
                room = text_width(label) + 10
                anchor = "end" if peak_x + room > frame.x1 + frame.right - 4 else "start"
                item.peak = {
                    "x": peak_x,
                    "y": peak_y,
                    "label": label,
                    "anchor": anchor,
                    "tx": _r(peak_x + (-7 if anchor == "end" else 7)),
                    "ty": _r(max(peak_y - 6, 12)),
                }
            last_value, last_index = present[-1][0], present[-1][1]
            item.last = {"x": px[last_index], "y": ys[last_index], "value": format_value(last_value, spec.fmt)}
        drawn.append(item)

    hovers = []
    multi_day = bool(xs) and kind == "datetime" and local_datetime(xs[0]).date() != local_datetime(xs[-1]).date()
    if not empty:
        count = len(px)
        step = max(1, math.ceil(count / max(1, max_hovers)))
        chosen = list(range(0, count, step))
        if chosen[-1] != count - 1:  # the latest point always has a title
            if len(chosen) >= max_hovers:
                chosen[-1] = count - 1
            else:
                chosen.append(count - 1)
        for position, index in enumerate(chosen):
            left = frame.x0 if position == 0 else (px[chosen[position - 1]] + px[index]) / 2
            right = frame.x1 if position == len(chosen) - 1 else (px[index] + px[chosen[position + 1]]) / 2
            lines = [_x_title(xs[index], kind, with_date=multi_day)]
            dots = []
            for spec, column, ys in zip(specs, columns, scaled_columns, strict=True):
                lines.append(f"{spec.label} {format_value(column[index], spec.fmt)}")
                if ys[index] is not None:
                    dots.append({"cy": ys[index], "css": f"c{spec.color}"})
            hovers.append(Hover(_r(left), _r(max(right - left, 1)), px[index], "\n".join(lines), dots))

    names = "、".join(s.label for s in specs) if not is_english() else ", ".join(s.label for s in specs)
    chart_title = title or _tr(gettext_noop("{names}趋势"), "{names} over time").format(names=names)
    if empty:
        desc = _no_data_text()
    else:
        span = f"{_x_title(xs[0], kind)} – {_x_title(xs[-1], kind)}"
        parts = []
        for spec, column in zip(specs, columns, strict=True):
            present = [v for v in column if v is not None]
            if present:
                parts.append(
                    _tr(gettext_noop("{label}最高 {max}，最新 {last}"), "{label}: max {max}, latest {last}").format(
                        label=spec.label,
                        max=format_value(max(present), spec.fmt),
                        last=format_value(present[-1], spec.fmt),
                    )
                )
        desc = f"{span}：" + "；".join(parts) if not is_english() else f"{span}: " + "; ".join(parts)
    return LineChart(
        frame=frame,
        title=chart_title,
        desc=desc,
        empty=empty,
        empty_text=_no_data_text(),
        y_ticks=y_ticks,
        y2_ticks=y2_ticks,
        x_ticks=x_ticks,
        series=drawn,
        hovers=hovers,
        drawn_points=len(px),
        source_points=source_points,
    )


# --------------------------------------------------------------------------------------------------
# Daily bars + line (secondary axis)


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    band_x: float
    band_width: float
    cx: float
    line_y: float | None
    title: str


@dataclass
class BarLineChart:
    frame: Frame
    title: str
    desc: str
    empty: bool
    empty_text: str
    y_ticks: list[Tick]
    y2_ticks: list[Tick]
    x_ticks: list[Tick]
    bars: list[Bar]
    line_path: str
    show_dots: bool
    bar_label: str
    line_label: str
    bar_color: int
    line_color: int
    dense: bool
    id: str = ""

    @property
    def right_axis_note(self) -> str:
        return _tr(gettext_noop("右轴"), "right axis")

    @property
    def width(self):
        return self.frame.width

    @property
    def height(self):
        return self.frame.height


def bar_line_chart(
    days: Sequence[date],
    bars: Sequence,
    line: Sequence,
    *,
    bar_label: str = "",
    line_label: str = "",
    bar_fmt: str = "money",
    line_fmt: str = "number",
    bar_color: int = 1,
    line_color: int = 0,
    width: float = WIDTH,
    height: float = HEIGHT,
    title: str = "",
) -> BarLineChart:
    """A daily trend: ``bars`` (GMV) on the left axis, ``line`` (orders) on an aligned right axis.

    ``days``, ``bars`` and ``line`` are parallel lists (None counts as 0). Works from 1 to 366+ days:
    bars get thinner, at most 12 x labels are drawn, every day has a hover title.
    """
    days, bars, line = list(days), list(bars), list(line)
    n = len(days)
    bar_values = [_num(v) or 0.0 for v in bars[:n]] + [0.0] * max(0, n - len(bars))
    line_values = [_num(v) or 0.0 for v in line[:n]] + [0.0] * max(0, n - len(line))
    bar_label = bar_label or "GMV"
    line_label = line_label or _tr(gettext_noop("订单数"), "Orders")
    empty = n == 0 or (not any(bar_values) and not any(line_values))

    ticks = nice_ticks(0, max(bar_values, default=0), integer=bar_fmt == "number")
    ticks2 = ticks_with_intervals(max(line_values, default=0), len(ticks) - 1, integer=line_fmt == "number")
    labels = _tick_labels(ticks, bar_fmt)
    labels2 = _tick_labels(ticks2, line_fmt)
    frame = Frame(width, height, _margin_for(labels, 34), _margin_for(labels2, 24), 16, 26)
    y_scale = LinearScale(0, float(ticks[-1]), frame.y1, frame.y0)
    y2_scale = LinearScale(0, float(ticks2[-1]), frame.y1, frame.y0)
    y_ticks = [Tick(y_scale(t), label, t, "end") for t, label in zip(ticks, labels, strict=True)]
    y2_ticks = [Tick(y2_scale(t), label, t, "start") for t, label in zip(ticks2, labels2, strict=True)]

    band = frame.plot_width / n if n else frame.plot_width
    dense = band < 4
    bar_width = min(36.0, band * (0.86 if dense else 0.62))
    drawn, line_points = [], []
    for i, day in enumerate(days):
        band_x = frame.x0 + i * band
        cx = band_x + band / 2
        top = y_scale(max(bar_values[i], 0.0))  # bars grow up from 0 (GMV is never negative)
        line_y = y2_scale(line_values[i])
        hover = "\n".join(
            (
                day.isoformat() if isinstance(day, date) else str(day),
                f"{bar_label} {format_value(bar_values[i], bar_fmt)}",
                f"{line_label} {format_value(line_values[i], line_fmt)}",
            )
        )
        drawn.append(
            Bar(
                x=_r(cx - bar_width / 2),
                y=top,
                width=_r(max(bar_width, 0.6)),
                height=_r(frame.y1 - top),
                band_x=_r(band_x),
                band_width=_r(band),
                cx=_r(cx),
                line_y=line_y,
                title=hover,
            )
        )
        line_points.append((_r(cx), line_y))

    max_labels = max(2, min(MAX_X_LABELS, int(frame.plot_width // 46)))
    x_ticks = []
    if not empty:
        if all(isinstance(d, date) for d in days):
            index = {d: i for i, d in enumerate(days)}
            for d in _date_ticks(min(days), max(days), max_labels):
                if d in index:
                    x_ticks.append(Tick(drawn[index[d]].cx, d.strftime("%m-%d"), d))
        if not x_ticks:
            x_ticks = [Tick(drawn[i].cx, str(days[i]), days[i]) for i in _label_tick_indexes(n, max_labels)]
        for tick in x_ticks:
            half = text_width(tick.label) / 2
            if tick.pos - half < 2:
                tick.anchor = "start"
            elif tick.pos + half > width - 2:
                tick.anchor = "end"

    chart_title = title or _tr(gettext_noop("每日{bar}与{line}"), "Daily {bar} and {line}").format(
        bar=bar_label, line=line_label
    )
    if empty:
        desc = _no_data_text()
    else:
        first, last = days[0], days[-1]
        span = f"{first.isoformat()} – {last.isoformat()}" if isinstance(first, date) else f"{first} – {last}"
        desc = _tr(
            gettext_noop("{span}，共 {days} 天：{bar}合计 {bar_total}，{line}合计 {line_total}"),
            "{span}, {days} days: {bar} total {bar_total}, {line} total {line_total}",
        ).format(
            span=span,
            days=n,
            bar=bar_label,
            line=line_label,
            bar_total=format_value(sum(bar_values), bar_fmt),
            line_total=format_value(sum(line_values), line_fmt),
        )
    return BarLineChart(
        frame=frame,
        title=chart_title,
        desc=desc,
        empty=empty,
        empty_text=_no_data_text(),
        y_ticks=y_ticks,
        y2_ticks=y2_ticks,
        x_ticks=x_ticks,
        bars=[] if empty else drawn,
        line_path="" if empty else _path(line_points),
        show_dots=n <= 31,
        bar_label=bar_label,
        line_label=line_label,
        bar_color=int(bar_color) % PALETTE_SIZE,
        line_color=int(line_color) % PALETTE_SIZE,
        dense=dense,
    )


# --------------------------------------------------------------------------------------------------
# Funnel


def _label_value(row) -> tuple[str, object, object]:
    """(label, value, count) from a row of a funnel, donut or share-bar chart.

    Rows are ``(label, value[, count])`` tuples, or mappings / objects / named tuples with ``label``
    and ``value`` and optionally ``share`` and ``count``. A ``share`` that is not None wins over
    ``value``; an integer ``value`` next to a share is taken as the count (shown in hover titles).
    """
    if isinstance(row, Mapping):
        fields = row
    elif hasattr(row, "label") and (hasattr(row, "value") or hasattr(row, "share")):
        fields = {name: getattr(row, name, None) for name in ("label", "value", "share", "count")}
    elif isinstance(row, Sequence) and not isinstance(row, str):
        return str(row[0]), row[1] if len(row) > 1 else None, row[2] if len(row) > 2 else None
    else:
        return str(row), None, None
    value, share, count = fields.get("value"), fields.get("share"), fields.get("count")
    if callable(count):  # a named tuple's tuple.count method, not a field
        count = None
    if share is not None:
        if count is None and isinstance(value, int) and not isinstance(value, bool):
            count = value
        value = share
    return str(fields.get("label", "")), value, count


def rate(value, previous) -> float | None:
    """``value / previous``, or None when the previous step is 0 or missing."""
    value, previous = _num(value), _num(previous)
    if value is None or not previous:
        return None
    return value / previous


@dataclass
class FunnelStep:
    label: str
    value: float
    value_text: str
    rate: float | None
    rate_text: str
    overall: float | None
    x: float
    y: float
    width: float
    height: float
    cx: float
    cy: float
    label_text: str
    color: int
    rate_y: float | None = None
    title: str = ""


@dataclass
class FunnelChart:
    width: float
    height: float
    title: str
    desc: str
    empty: bool
    empty_text: str
    steps: list[FunnelStep]
    label_x: float
    value_x: float
    id: str = ""

    @property
    def center_x(self) -> float:
        return _r(self.width / 2)

    @property
    def center_y(self) -> float:
        return _r(self.height / 2)


def funnel(
    steps: Iterable,
    *,
    width: float = WIDTH,
    scale: str = "sqrt",
    fmt: str = "number",
    title: str = "",
) -> FunnelChart:
    """Horizontal, centred bars of decreasing width with each step's value and its conversion rate.

    ``steps``: ``(label, value)`` pairs (or mappings with label/value). The rate of a step is its value
    over the previous step's (None for the first step and after a 0). Widths follow the square root of
    the value's share of the largest step (``scale="linear"`` for plain proportions), at least 3 %.
    """
    if isinstance(steps, Mapping):
        steps = steps.items()
    rows = [_label_value(row) for row in steps]
    labels = [label for label, _value, _extra in rows]
    values = [max(_num(value) or 0.0, 0.0) for _label, value, _extra in rows]
    empty = not values or not any(values)
    biggest = max(values, default=0.0)
    value_texts = [format_value(v, fmt) for v in values]

    row_height, gap, top, bottom = 34.0, 26.0, 6.0, 6.0
    label_col = min(max((text_width(label, 13) for label in labels), default=60) + 18, width * 0.3)
    value_col = max((text_width(text, 14) for text in value_texts), default=40) + 22
    bar_left, bar_right = label_col, width - value_col
    bar_area = max(bar_right - bar_left, 40)
    centre = bar_left + bar_area / 2
    count = max(len(values), 1)
    height = max(top + count * row_height + (count - 1) * gap + bottom, 120 if not values else 0)

    drawn = []
    previous = None
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        share = value / biggest if biggest else 0.0
        fraction = math.sqrt(share) if scale == "sqrt" else share
        bar_width = bar_area * max(fraction, 0.03) if not empty else bar_area * (1 - i * 0.15)
        y = top + i * (row_height + gap)
        step_rate = rate(value, previous) if i else None
        overall = rate(value, values[0]) if i else None
        rate_text = format_percent(step_rate) if i else ""
        title_lines = [f"{label} {format_value(value, fmt)}"]
        if i:
            title_lines.append(
                _tr(gettext_noop("较上一步转化率 {rate}"), "Conversion from previous step {rate}").format(
                    rate=rate_text
                )
            )
            title_lines.append(
                _tr(gettext_noop("整体转化率 {rate}"), "Overall conversion {rate}").format(
                    rate=format_percent(overall, 2)
                )
            )
        drawn.append(
            FunnelStep(
                label=label,
                value=value,
                value_text=value_texts[i],
                rate=step_rate,
                rate_text=rate_text,
                overall=overall,
                x=_r(centre - bar_width / 2),
                y=_r(y),
                width=_r(max(bar_width, 2)),
                height=row_height,
                cx=_r(centre),
                cy=_r(y + row_height / 2),
                label_text=truncate(label, label_col - 14, 13),
                color=i % PALETTE_SIZE,
                rate_y=_r(y - gap / 2) if i else None,
                title="\n".join(title_lines),
            )
        )
        previous = value

    chart_title = title or _tr(gettext_noop("转化漏斗"), "Conversion funnel")
    if empty:
        desc = _no_data_text()
    else:
        parts = []
        for step in drawn:
            text = f"{step.label} {step.value_text}"
            if step.rate_text:
                text += f" ({step.rate_text})" if is_english() else f"（{step.rate_text}）"
            parts.append(text)
        desc = (" → " if is_english() else " → ").join(parts)
    return FunnelChart(
        width=width,
        height=_r(height),
        title=chart_title,
        desc=desc,
        empty=empty,
        empty_text=_no_data_text(),
        steps=drawn,
        label_x=_r(label_col - 14),
        value_x=_r(bar_right + 14),
    )


# --------------------------------------------------------------------------------------------------
# Donut and share bars


def _shares(rows: Iterable, normalize: bool | None) -> list[tuple[str, float, object]]:
    """(label, share, extra) with shares as fractions; ``normalize`` None → only when a value is > 1."""
    if isinstance(rows, Mapping):
        rows = rows.items()
    parsed = [_label_value(row) for row in rows]
    values = [max(_num(value) or 0.0, 0.0) for _label, value, _extra in parsed]
    if normalize is None:
        normalize = any(v > 1 for v in values)
    total = sum(values)
    if normalize:
        values = [v / total if total else 0.0 for v in values]
    return [(label, v, extra) for (label, _value, extra), v in zip(parsed, values, strict=True)]


@dataclass
class Slice:
    label: str
    share: float
    share_text: str
    path: str
    color: int
    title: str
    extra: object = None


@dataclass
class DonutChart:
    size: float
    cx: float
    cy: float
    radius: float
    inner: float
    title: str
    desc: str
    empty: bool
    empty_text: str
    slices: list[Slice]
    center_value: str
    center_label: str
    id: str = ""

    @property
    def track_radius(self) -> float:
        return _r((self.radius + self.inner) / 2)

    @property
    def track_width(self) -> float:
        return _r(self.radius - self.inner)

    @property
    def center_label_text(self) -> str:
        return truncate(self.center_label, self.inner * 1.6, 12)


def _point(cx: float, cy: float, radius: float, angle: float) -> str:
    """The point at ``angle`` (radians, 0 = top, clockwise) as ``x,y``."""
    x = cx + radius * math.sin(angle)
    y = cy - radius * math.cos(angle)
    return f"{_r(x):g},{_r(y):g}"


def ring_path(cx: float, cy: float, outer: float, inner: float) -> str:
    """A full ring (two half arcs per circle; draw with ``fill-rule="evenodd"``)."""
    top_o, bottom_o = f"{cx:g},{_r(cy - outer):g}", f"{cx:g},{_r(cy + outer):g}"
    top_i, bottom_i = f"{cx:g},{_r(cy - inner):g}", f"{cx:g},{_r(cy + inner):g}"
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
    rows = _shares(shares, normalize)
    cx = cy = _r(size / 2)
    radius = _r(size / 2 - 4)
    inner = _r(radius * (1 - thickness))
    total = sum(share for _label, share, _extra in rows)
    empty = total <= 0
    slices = []
    angle = 0.0
    drawn_count = sum(1 for _label, share, _extra in rows if share > 0)
    for i, (label, share, extra) in enumerate(rows):
        fraction = share / total if total else 0.0
        path = ""
        if fraction > 0:
            end = min(angle + fraction * 2 * math.pi, 2 * math.pi)
            # A small gap between neighbouring slices, unless the slice is too thin to lose it.
            pad = DONUT_GAP if drawn_count > 1 and end - angle > 4 * DONUT_GAP else 0.0
            path = arc_path(cx, cy, radius, inner, angle + pad, end - pad)
            angle = end
        share_text = format_percent(fraction if normalize is not False else share)
        extra_text = f" · {format_value(extra)}" if extra is not None else ""
        slices.append(Slice(label, fraction, share_text, path, i % PALETTE_SIZE, f"{label} {share_text}{extra_text}"))
    leader = max(slices, key=lambda s: s.share) if slices and not empty else None
    chart_title = title or _tr(gettext_noop("占比"), "Shares")
    desc = _no_data_text() if empty else ("，" if not is_english() else ", ").join(s.title for s in slices)
    return DonutChart(
        size=size,
        cx=cx,
        cy=cy,
        radius=radius,
        inner=inner,
        title=chart_title,
        desc=desc,
        empty=empty,
        empty_text=_no_data_text(),
        slices=slices,
        center_value=leader.share_text if leader else "",
        center_label=center_label or (leader.label if leader else ""),
    )


@dataclass
class ShareRow:
    label: str
    label_text: str
    share: float
    share_text: str
    y: float
    width: float
    title: str
    color: int


@dataclass
class ShareBarsChart:
    width: float
    height: float
    title: str
    desc: str
    empty: bool
    empty_text: str
    rows: list[ShareRow]
    bar_x: float
    bar_max: float
    label_x: float
    value_x: float
    row_height: float
    bar_height: float
    id: str = ""

    @property
    def center_x(self) -> float:
        return _r(self.width / 2)

    @property
    def center_y(self) -> float:
        return _r(self.height / 2)

    @property
    def text_y(self) -> float:
        return _r(self.row_height / 2)

    @property
    def bar_y(self) -> float:
        return _r((self.row_height - self.bar_height) / 2)

    @property
    def bar_radius(self) -> float:
        return _r(self.bar_height / 2)


def share_bars(
    rows: Iterable,
    *,
    width: float = 480,
    normalize: bool | None = None,
    color: int = 1,
    title: str = "",
) -> ShareBarsChart:
    """Horizontal bars for ``(label, share)`` rows (or ``(label, share, count)``; mappings work too).

    Shares are fractions shown as they are (top provinces may add up to less than 100 %); with counts
    (any value > 1), or ``normalize=True``, they are divided by their sum. The longest bar is the
    largest share; every row has a hover title.
    """
    parsed = _shares(rows, normalize)
    empty = not parsed or not any(share for _label, share, _extra in parsed)
    row_height, bar_height, top = 30.0, 12.0, 4.0
    label_col = min(max((text_width(label, 13) for label, _s, _e in parsed), default=40) + 14, width * 0.34)
    value_col = 58.0
    bar_x = label_col
    bar_max = max(width - label_col - value_col, 20)
    biggest = max((share for _label, share, _extra in parsed), default=0.0)
    drawn = []
    for i, (label, share, extra) in enumerate(parsed):
        share_text = format_percent(share)
        extra_text = f" · {format_value(extra)}" if extra is not None else ""
        drawn.append(
            ShareRow(
                label=label,
                label_text=truncate(label, label_col - 12, 13),
                share=share,
                share_text=share_text,
                y=_r(top + i * row_height),
                width=_r(bar_max * share / biggest) if biggest else 0.0,
                title=f"{label} {share_text}{extra_text}",
                color=int(color) % PALETTE_SIZE,
            )
        )
    height = top * 2 + len(parsed) * row_height if parsed else 120
    chart_title = title or _tr(gettext_noop("占比"), "Shares")
    desc = _no_data_text() if empty else ("，" if not is_english() else ", ").join(r.title for r in drawn)
    return ShareBarsChart(
        width=width,
        height=_r(height),
        title=chart_title,
        desc=desc,
        empty=empty,
        empty_text=_no_data_text(),
        rows=drawn,
        bar_x=_r(bar_x),
        bar_max=_r(bar_max),
        label_x=_r(label_col - 12),
        value_x=_r(width),
        row_height=row_height,
        bar_height=bar_height,
    )
