"""Reading input rows: mappings, sequences, named tuples or objects, as the views hand them over."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .scales import as_float


def pick(row, key, position: int):
    """Read ``key`` from a mapping, ``position`` from a sequence, or the attribute ``key`` of an object."""
    if isinstance(row, Mapping):
        return row.get(key)
    if isinstance(row, Sequence) and not isinstance(row, str):
        return row[position] if position < len(row) else None
    return getattr(row, str(key), None)


def label_value(row) -> tuple[str, object, object]:
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


def labels_and_values(rows: Iterable) -> list[tuple[str, float, object]]:
    """(label, value, count) per row (a mapping counts as its items), values ≥ 0 (None → 0)."""
    if isinstance(rows, Mapping):
        rows = rows.items()
    parsed = [label_value(row) for row in rows]
    return [(label, max(as_float(value) or 0.0, 0.0), extra) for label, value, extra in parsed]


def share_rows(rows: Iterable, normalize: bool | None) -> list[tuple[str, float, object]]:
    """(label, share, extra) with shares as fractions; ``normalize`` None → only when a value is > 1."""
    parsed = labels_and_values(rows)
    values = [value for _label, value, _extra in parsed]
    if normalize is None:
        normalize = any(v > 1 for v in values)
    total = sum(values)
    if normalize:
        values = [v / total if total else 0.0 for v in values]
    return [(label, v, extra) for (label, _value, extra), v in zip(parsed, values, strict=True)]
