"""Axes: value ticks (y) and labelled positions along datetimes, dates or plain labels (x)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from .frame import Frame
from .scales import LinearScale, nice_ticks
from .text import axis_label, text_width

MAX_X_LABELS = 12
# Steps (minutes) for time axes: round clock times.
TIME_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440)


@dataclass
class Tick:
    pos: float
    label: str
    value: object = None
    anchor: str = "middle"


# --------------------------------------------------------------------------------------------------
# y axes: values


def value_ticks(values: Iterable[float | None], *, integer: bool) -> list[Decimal]:
    """Round ticks covering the values that are present (None is skipped)."""
    present = [v for v in values if v is not None]
    return nice_ticks(min(present, default=0), max(present, default=0), integer=integer)


def tick_labels(ticks: Sequence[Decimal], fmt: str) -> list[str]:
    return [axis_label(t, fmt) for t in ticks]


def margin_for(labels: Sequence[str], minimum: float) -> float:
    """A side margin wide enough for the axis' labels."""
    return max(minimum, max((text_width(label) for label in labels), default=0) + 12)


def value_axis(ticks: Sequence[Decimal], labels: Sequence[str], frame: Frame, anchor: str):
    """The scale from the ticks' range onto the plot's height, and the ticks placed on it."""
    scale = LinearScale(float(ticks[0]), float(ticks[-1]), frame.y1, frame.y0)
    return scale, [Tick(scale(t), label, t, anchor) for t, label in zip(ticks, labels, strict=True)]


# --------------------------------------------------------------------------------------------------
# x axes: datetimes, dates, labels


def local_datetime(value: datetime) -> datetime:
    """Aware datetimes in the current time zone (Asia/Shanghai); naive ones as they are."""
    return timezone.localtime(value) if timezone.is_aware(value) else value


def x_label_room(labels: Sequence[str]) -> float:
    """The width one x label needs, gap included."""
    return max((text_width(label) for label in labels), default=30) + 14


def x_kind(xs: Sequence) -> str:
    if xs and all(isinstance(x, datetime) for x in xs):
        return "datetime"
    if xs and all(isinstance(x, date) and not isinstance(x, datetime) for x in xs):
        return "date"
    return "label"


def x_offsets(xs: Sequence, kind: str) -> list[float]:
    """Positions along the x domain: seconds for datetimes, days for dates, the index for labels."""
    if kind == "datetime":
        first = xs[0]
        return [(x - first).total_seconds() for x in xs]
    if kind == "date":
        first = xs[0]
        return [float((x - first).days) for x in xs]
    return [float(i) for i in range(len(xs))]


def x_title(x, kind: str, with_date: bool = True) -> str:
    if kind == "datetime":
        local = local_datetime(x)
        return local.strftime("%m-%d %H:%M" if with_date else "%H:%M")
    if kind == "date":
        return x.isoformat()
    return str(x)


def time_ticks(xs: Sequence[datetime], scale: LinearScale, max_labels: int) -> list[Tick]:
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


def date_ticks(first: date, last: date, max_labels: int) -> list[date]:
    """Which dates get an MM-DD label: every day, every k-th day (whole weeks when k > 4), or month starts."""
    n = (last - first).days + 1
    if n <= max_labels:
        k = 1
    elif n <= 120:
        k = math.ceil(n / max_labels)
        if k > 4:
            k = math.ceil(k / 7) * 7
    else:
        return _month_starts(first, last, max_labels)
    return [first + timedelta(days=i) for i in range(0, n, k)]


def _month_starts(first: date, last: date, max_labels: int) -> list[date]:
    """Every month's (or every k-th month's) first day between ``first`` and ``last``."""
    starts, month = [], date(first.year, first.month, 1)
    while month <= last:
        if month >= first:
            starts.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return starts[:: math.ceil(len(starts) / max_labels)] if starts else [first]


def label_tick_indexes(n: int, max_labels: int) -> list[int]:
    """Which of ``n`` labels are drawn: all of them, or every k-th."""
    if n <= max_labels:
        return list(range(n))
    k = math.ceil(n / max_labels)
    return list(range(0, n, k))


def keep_inside(ticks: Iterable[Tick], width: float) -> None:
    """Anchor the edge labels at their start / end so they stay inside the viewBox."""
    for tick in ticks:
        half = text_width(tick.label) / 2
        if tick.pos - half < 2:
            tick.anchor = "start"
        elif tick.pos + half > width - 2:
            tick.anchor = "end"
