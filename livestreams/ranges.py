"""The date range of a creator's data pages: last 7 / 30 / 90 days, or a custom range.

Calendar days in Asia/Shanghai, both ends included. A bad range (end before start, over 366 days,
a malformed date) never raises: the form carries a readable message and the pages fall back to the
default range.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.utils.translation import gettext_lazy as _

PRESETS = (("7", _("近7天")), ("30", _("近30天")), ("90", _("近90天")))
DEFAULT_PRESET = "30"
MAX_DAYS = 366


@dataclass(frozen=True)
class DateRange:
    start: datetime.date
    end: datetime.date
    preset: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> DateRange:
        """The period of the same length just before this one."""
        length = datetime.timedelta(days=self.days)
        return DateRange(self.start - length, self.end - length)

    def query(self) -> dict[str, str]:
        """The URL parameters that select this range."""
        if self.preset:
            return {"range": self.preset}
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @property
    def querystring(self) -> str:
        """``query()`` encoded for a URL (without the ``?``)."""
        return urlencode(self.query())

    @classmethod
    def last(cls, days: int, today: datetime.date, preset: str | None = None) -> DateRange:
        return cls(today - datetime.timedelta(days=days - 1), today, preset)


DATE_ERRORS = {"invalid": _("请输入有效的日期（YYYY-MM-DD）。")}
# The data starts this century; bounding the input also keeps the previous-period arithmetic
# (start minus the range's length, end plus a day) inside the calendar.
EARLIEST = datetime.date(2000, 1, 1)
LATEST = datetime.date(2100, 12, 31)


class RangeForm(forms.Form):
    range = forms.ChoiceField(choices=PRESETS, required=False)
    start = forms.DateField(label=_("开始日期"), required=False, input_formats=["%Y-%m-%d"], error_messages=DATE_ERRORS)
    end = forms.DateField(label=_("结束日期"), required=False, input_formats=["%Y-%m-%d"], error_messages=DATE_ERRORS)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if self.errors or (start is None and end is None):
            return data
        if start is None or end is None:
            raise forms.ValidationError(_("自定义范围需要同时填写开始日期和结束日期。"), code="incomplete")
        if end < start:
            raise forms.ValidationError(_("结束日期不能早于开始日期。"), code="end_before_start")
        if start < EARLIEST or end > LATEST:
            raise forms.ValidationError(
                _("日期需在 %(earliest)s 至 %(latest)s 之间。") % {"earliest": EARLIEST, "latest": LATEST},
                code="out_of_bounds",
            )
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(_("日期范围最长为 %(max)s 天。") % {"max": MAX_DAYS}, code="too_long")
        return data


def parse_range(params, today: datetime.date) -> tuple[DateRange, RangeForm]:
    """The range the request asks for (or the default, when it asks for something invalid)."""
    form = RangeForm(params)
    default = DateRange.last(int(DEFAULT_PRESET), today, DEFAULT_PRESET)
    if not form.is_valid():
        return default, form
    start, end = form.cleaned_data.get("start"), form.cleaned_data.get("end")
    if start and end:
        return DateRange(start, end), form
    preset = form.cleaned_data.get("range") or DEFAULT_PRESET
    return DateRange.last(int(preset), today, preset), form
