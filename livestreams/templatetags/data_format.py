"""Readable numbers for the data pages, following the active language.

``{% load data_format %}`` then::

    {{ value|compact }}          zh-hans: 9999, 1.2万, 1亿       en: 9,999, 123,456, 1.2M, 3.4B
    {{ value|money }}            zh-hans: ¥1,234.50, ¥12.3万      en: ¥12,345.00, ¥1.2M
    {{ rate|percent }}           0.1234 → 12.3%  ({{ rate|percent:2 }} → 12.34%)
    {{ seconds|duration }}       zh-hans: 45秒, 1分35秒, 1小时5分   en: 45s, 1m 35s, 1h 5m
    {{ delta|signed_percent }}   0.123 → ↑12.3%, -0.04 → ↓4.0%, 0 → 0.0%
    {{ delta|delta_class }}      up / down / flat (the ``.delta`` classes of portal.css)

Every filter takes int, float, Decimal or a numeric string; ``None`` (and anything that is not a
number) gives ``—``. Chinese is the UI's source language, so the zh-hans forms are written here
directly (unit words go through gettext so translators see them); the English forms do not depend
on any catalog. The plain functions (``format_compact`` …) are used by ``livestreams.charts`` too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils.translation import get_language, gettext, pgettext

register = template.Library()

DASH = "—"
WAN = Decimal(10_000)
YI = Decimal(100_000_000)
THOUSAND = Decimal(1_000)
MILLION = Decimal(1_000_000)
BILLION = Decimal(1_000_000_000)


def is_english(language: str | None = None) -> bool:
    """True when the active (or given) language is English; anything else formats the Chinese way."""
    language = language if language is not None else get_language()
    return bool(language) and language.lower().startswith("en")


def to_decimal(value) -> Decimal | None:
    """int / float / Decimal / numeric string → a finite Decimal; anything else → None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _round(number: Decimal, places: int) -> Decimal:
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _trim(number: Decimal, places: int, separators: bool = False) -> str:
    """Round to ``places`` decimals and drop trailing zeros (``12.0`` → ``12``, ``0.50`` → ``0.5``)."""
    text = format(_round(number, places), f"{',' if separators else ''}.{places}f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _scaled(number: Decimal, units: list[tuple[Decimal, str]]) -> tuple[Decimal, str] | None:
    """The largest unit the rounded (1 decimal) magnitude reaches: 99,999,999 → (1, 亿), not 10000万."""
    size = _round(abs(number), 2)
    for index, (unit, word) in enumerate(units):
        if size >= unit:
            scaled = _round(size / unit, 1)
            if index > 0 and scaled * unit >= units[index - 1][0]:
                previous_unit, previous_word = units[index - 1]
                return _round(size / previous_unit, 1), previous_word
            return scaled, word
    return None


def _sign(number: Decimal) -> str:
    return "-" if number < 0 and _round(abs(number), 2) != 0 else ""


def format_compact(value, language: str | None = None) -> str:
    """Counts and amounts in few characters; see the module docstring."""
    number = to_decimal(value)
    if number is None:
        return DASH
    if is_english(language):
        hit = _scaled(number, [(BILLION, "B"), (MILLION, "M")])
        if hit:
            return f"{_sign(number)}{_trim(hit[0], 1)}{hit[1]}"
        return _sign(number) + _trim(abs(number), 2, separators=True)
    hit = _scaled(number, [(YI, gettext("亿")), (WAN, gettext("万"))])
    if hit:
        return f"{_sign(number)}{_trim(hit[0], 1)}{hit[1]}"
    return _sign(number) + _trim(abs(number), 2)


def format_money(value, language: str | None = None) -> str:
    """Yuan amounts: ``¥1,234.50`` below the compact threshold (万 in Chinese, a million in English)."""
    number = to_decimal(value)
    if number is None:
        return DASH
    threshold = MILLION if is_english(language) else WAN
    if _round(abs(number), 2) >= threshold:
        return f"{_sign(number)}¥{format_compact(abs(number), language)}"
    return f"{_sign(number)}¥{format(_round(abs(number), 2), ',.2f')}"


def format_percent(value, digits: int = 1) -> str:
    """A share or rate (a fraction, 0.1234) as a percentage with ``digits`` decimals: ``12.3%``."""
    number = to_decimal(value)
    if number is None:
        return DASH
    digits = _digits(digits)
    text = format(_round(number * 100, digits), f".{digits}f")
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")
    return f"{text}%"


def format_signed_percent(value, digits: int = 1) -> str:
    """A period-over-period change (a fraction) with an arrow: ``↑12.3%``, ``↓4.0%``, ``0.0%``."""
    number = to_decimal(value)
    if number is None:
        return DASH
    digits = _digits(digits)
    rounded = _round(abs(number) * 100, digits)
    text = format(rounded, f".{digits}f") + "%"
    if rounded == 0:
        return text
    return ("↑" if number > 0 else "↓") + text


def delta_direction(value, digits: int = 1) -> str:
    """``up``, ``down`` or ``flat`` (also for None), consistent with :func:`format_signed_percent`."""
    number = to_decimal(value)
    if number is None or _round(abs(number) * 100, _digits(digits)) == 0:
        return "flat"
    return "up" if number > 0 else "down"


def format_duration(value, language: str | None = None) -> str:
    """Seconds as ``1小时5分`` / ``1分35秒`` / ``45秒`` (en: ``1h 5m`` / ``1m 35s`` / ``45s``)."""
    number = to_decimal(value)
    if number is None:
        return DASH
    total = int(_round(abs(number), 0))
    sign = "-" if number < 0 and total else ""
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if is_english(language):
        units = ("h", "m", "s")
        joiner = " "
    else:
        units = (pgettext("duration", "小时"), pgettext("duration", "分"), pgettext("duration", "秒"))
        joiner = ""
    if hours:
        parts = [(hours, units[0]), (minutes, units[1])]
    elif minutes:
        parts = [(minutes, units[1]), (seconds, units[2])]
    else:
        parts = [(seconds, units[2])]
    shown = [f"{amount}{unit}" for amount, unit in parts if amount] or [f"0{units[2]}"]
    return sign + joiner.join(shown)


def _digits(digits) -> int:
    try:
        return max(0, min(int(digits), 6))
    except (TypeError, ValueError):
        return 1


@register.filter(is_safe=True)
def compact(value):
    """``{{ value|compact }}`` → ``12.3万`` / ``1.2亿`` (zh-hans), ``12,345`` / ``1.2M`` (en); None → ``—``."""
    return format_compact(value)


@register.filter(is_safe=True)
def money(value):
    """``{{ value|money }}`` → ``¥12.3万`` / ``¥1,234.50`` (zh-hans), ``¥12,345.00`` / ``¥1.2M`` (en)."""
    return format_money(value)


@register.filter(is_safe=True)
def percent(value, digits=1):
    """``{{ share|percent }}`` → ``12.3%``; ``{{ share|percent:2 }}`` → ``12.34%``; None → ``—``."""
    return format_percent(value, digits)


@register.filter(is_safe=True)
def duration(value):
    """``{{ seconds|duration }}`` → ``1小时5分`` / ``1分35秒`` / ``45秒`` (en ``1h 5m`` / ``1m 35s`` / ``45s``)."""
    return format_duration(value)


@register.filter(is_safe=True)
def signed_percent(value, digits=1):
    """``{{ delta|signed_percent }}`` → ``↑12.3%`` / ``↓4.0%`` / ``0.0%``; None → ``—``."""
    return format_signed_percent(value, digits)


@register.filter(is_safe=True)
def delta_class(value, digits=1):
    """``<span class="delta {{ delta|delta_class }}">`` → ``up`` / ``down`` / ``flat``."""
    return delta_direction(value, digits)
