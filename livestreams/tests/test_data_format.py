"""Number formatting filters (livestreams/templatetags/data_format.py) in both UI languages."""

from decimal import Decimal

import pytest
from django.template import engines
from django.utils import translation

from livestreams.templatetags.data_format import (
    compact,
    delta_class,
    duration,
    money,
    percent,
    signed_percent,
)


@pytest.fixture
def zh():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def en():
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (9_999, "9999"),
        (10_000, "1万"),
        (12_345, "1.2万"),
        (15_000, "1.5万"),
        (99_999, "10万"),
        (123_456, "12.3万"),
        (99_999_999, "1亿"),  # rounds up into 亿, never "10000万"
        (100_000_000, "1亿"),
        (123_456_789, "1.2亿"),
        (-12_345, "-1.2万"),
        (Decimal("1234.50"), "1234.5"),
        (Decimal("56789.00"), "5.7万"),
        (12.0, "12"),
        (None, "—"),
        ("not a number", "—"),
    ],
)
def test_compact_zh(zh, value, expected):
    assert compact(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (9_999, "9,999"),
        (10_000, "10,000"),
        (12_345, "12,345"),
        (999_999, "999,999"),
        (1_000_000, "1M"),
        (1_234_567, "1.2M"),
        (99_999_999, "100M"),
        (100_000_000, "100M"),
        (1_250_000_000, "1.3B"),
        (-12_345, "-12,345"),
        (Decimal("1234.5"), "1,234.5"),
        (None, "—"),
    ],
)
def test_compact_en(en, value, expected):
    assert compact(value) == expected


@pytest.mark.parametrize(
    ("value", "zh_text", "en_text"),
    [
        (0, "¥0.00", "¥0.00"),
        (Decimal("1234.5"), "¥1,234.50", "¥1,234.50"),
        (Decimal("9999.99"), "¥9,999.99", "¥9,999.99"),
        (10_000, "¥1万", "¥10,000.00"),
        (123_456, "¥12.3万", "¥123,456.00"),
        (999_999, "¥100万", "¥999,999.00"),
        (1_234_567, "¥123.5万", "¥1.2M"),
        (100_000_000, "¥1亿", "¥100M"),
        (-5, "-¥5.00", "-¥5.00"),
        (None, "—", "—"),
    ],
)
def test_money(value, zh_text, en_text):
    with translation.override("zh-hans"):
        assert money(value) == zh_text
    with translation.override("en"):
        assert money(value) == en_text


def test_percent():
    assert percent(0.1234) == "12.3%"
    assert percent(Decimal("0.1234"), 2) == "12.34%"
    assert percent(1) == "100.0%"
    assert percent(0) == "0.0%"
    assert percent(-0.00001) == "0.0%"  # no "-0.0%"
    assert percent(None) == "—"
    assert percent(0.5, 0) == "50%"


@pytest.mark.parametrize(
    ("seconds", "zh_text", "en_text"),
    [
        (0, "0秒", "0s"),
        (45, "45秒", "45s"),
        (95, "1分35秒", "1m 35s"),
        (300, "5分", "5m"),
        (3600, "1小时", "1h"),
        (3900, "1小时5分", "1h 5m"),
        (3959, "1小时5分", "1h 5m"),
        (Decimal("95.6"), "1分36秒", "1m 36s"),
        (None, "—", "—"),
    ],
)
def test_duration(seconds, zh_text, en_text):
    with translation.override("zh-hans"):
        assert duration(seconds) == zh_text
    with translation.override("en"):
        assert duration(seconds) == en_text


def test_signed_percent_and_delta_class():
    assert signed_percent(0.123) == "↑12.3%"
    assert signed_percent(Decimal("-0.04")) == "↓4.0%"
    assert signed_percent(-1) == "↓100.0%"
    assert signed_percent(0) == "0.0%"
    assert signed_percent(-0.0001) == "0.0%"  # rounds to zero: no arrow
    assert signed_percent(None) == "—"
    assert signed_percent(0.12345, 2) == "↑12.35%"
    assert [delta_class(v) for v in (0.123, -0.04, 0, -0.0001, None)] == ["up", "down", "flat", "flat", "flat"]


def test_filters_in_templates_follow_the_active_language():
    template = engines["django"].from_string(
        "{% load data_format %}{{ n|compact }} {{ m|money }} {{ r|percent:1 }} {{ s|duration }} "
        "{{ d|signed_percent }} {{ none|compact }}"
    )
    context = {"n": 12_345, "m": Decimal("1234567.80"), "r": 0.1234, "s": 3900, "d": -0.04, "none": None}
    with translation.override("zh-hans"):
        assert template.render(context) == "1.2万 ¥123.5万 12.3% 1小时5分 ↓4.0% —"
    with translation.override("en"):
        assert template.render(context) == "12,345 ¥1.2M 12.3% 1h 5m ↓4.0% —"
