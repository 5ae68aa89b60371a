"""SVG path strings for lines and the areas under them."""

from __future__ import annotations

from collections.abc import Sequence


def line_path(points: Sequence[tuple[float, float | None]]) -> str:
    """``M x,y L x,y …``; a None value breaks the line."""
    parts, pen_down = [], False
    for x, y in points:
        if y is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:g},{y:g}")
        pen_down = True
    return " ".join(parts)


def area_path(points: Sequence[tuple[float, float | None]], baseline: float) -> str:
    """The area between the line through the points that are present and ``baseline``."""
    drawn = [(x, y) for x, y in points if y is not None]
    if not drawn:
        return ""
    line = " ".join(f"{'L' if i else 'M'}{x:g},{y:g}" for i, (x, y) in enumerate(drawn))
    return f"{line} L{drawn[-1][0]:g},{baseline:g} L{drawn[0][0]:g},{baseline:g} Z"
