"""What a line chart draws: :class:`Series` specs, and rows read into columns and thinned (:func:`downsample`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .axes import x_kind
from .frame import PALETTE_SIZE
from .rows import pick
from .scales import as_float
from .text import FORMATS

MAX_POINTS = 240


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
class Points:
    """A line chart's rows as columns: the x values (rows without one dropped), one column per series."""

    xs: list
    columns: list[list[float | None]]
    kind: str  # datetime, date or label (see axes.x_kind)
    source_points: int  # rows with an x value, before thinning

    @property
    def empty(self) -> bool:
        return not self.xs or all(not v for column in self.columns for v in column)


def read_points(points: Iterable, specs: Sequence[Series], x: object, max_points: int) -> Points:
    rows = list(points)
    xs = [pick(row, x, 0) for row in rows]
    columns = [[as_float(pick(row, s.key, i + 1)) for row in rows] for i, s in enumerate(specs)]
    keep = [i for i, value in enumerate(xs) if value is not None]
    xs = [xs[i] for i in keep]
    columns = [[column[i] for i in keep] for column in columns]
    thinned_xs, thinned_columns = downsample(xs, columns, [s.agg for s in specs], max_points)
    return Points(thinned_xs, thinned_columns, x_kind(xs), source_points=len(xs))


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
    new_columns = [
        [_merge(column[i : i + size], agg) for i in range(0, n, size)]
        for column, agg in zip(columns, aggs, strict=True)
    ]
    return new_xs, new_columns


def _merge(bucket: Sequence[float | None], agg: str) -> float | None:
    values = [v for v in bucket if v is not None]
    if not values:
        return None
    if agg == "avg":
        return sum(values) / len(values)
    return max(values)
