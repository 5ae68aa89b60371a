"""Words and numbers in charts: translated strings, tick and hover labels, approximate text widths."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from decimal import Decimal

from django.utils.translation import get_language, gettext, gettext_noop

from livestreams.templatetags.data_format import (
    format_compact,
    format_duration,
    format_money,
    format_percent,
    is_english,
    to_decimal,
)

FONT_SIZE = 12
FORMATS = ("number", "money", "percent", "duration")


def tr(msgid: str, english: str) -> str:
    """gettext, with a built-in English fallback while the catalog has no entry yet."""
    translated = gettext(msgid)
    if translated == msgid and is_english(get_language()):
        return english
    return translated


def no_data_text() -> str:
    return tr(gettext_noop("暂无数据"), "No data")


def join_clauses(texts: Iterable[str]) -> str:
    """Hover titles joined into one description: ``a，b`` (zh-hans), ``a, b`` (en)."""
    return ("，" if not is_english() else ", ").join(texts)


def share_title(label: str, share_text: str, extra) -> str:
    """``广东 18.0%``, or ``推荐 62.0% · 620`` when a count (``extra``) comes with the share."""
    extra_text = f" · {format_value(extra)}" if extra is not None else ""
    return f"{label} {share_text}{extra_text}"


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


def strip_zeros(text: str) -> str:
    """``"20.0"`` → ``"20"``, ``"0.50"`` → ``"0.5"``; integers stay as they are (``"100"``)."""
    return text.rstrip("0").rstrip(".") if "." in text else text


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
        return strip_zeros(format(number, ",.2f"))
    return format_compact(value)


def axis_label(value, fmt: str = "number") -> str:
    """A short tick label: ``5万`` / ``¥50万`` (zh-hans), ``50K`` / ``¥1.2M`` (en), ``20%``."""
    if fmt == "percent":
        number = to_decimal(value) or Decimal(0)
        return strip_zeros(format(number * 100, "f")) + "%"
    if fmt == "duration":
        return format_duration(value)
    number = to_decimal(value) or Decimal(0)
    if is_english() and 1_000 <= abs(number) < 1_000_000:
        text = strip_zeros(format(number / 1000, "f")) + "K"
    else:
        text = format_compact(number)
    return f"¥{text}" if fmt == "money" and number else text
