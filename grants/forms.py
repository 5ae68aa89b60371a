"""Forms parse and check the shape of input; the rules themselves are the services'."""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from portal.models import Organization

from .models import today

DATE_ERRORS = {"required": _("请选择日期。"), "invalid": _("请输入有效的日期（YYYY-MM-DD）。")}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


# A grant's dates are this century's: a date picker's far end (9999-12-31) is a typo, and a day
# after it does not exist (the early-renewal form offers "current end + 1 day").
LATEST = datetime.date(2100, 12, 31)


def date_field(label, **kwargs) -> forms.DateField:
    return forms.DateField(
        label=label,
        widget=DateInput(attrs={"max": LATEST.isoformat()}),
        input_formats=["%Y-%m-%d"],
        error_messages=DATE_ERRORS,
        validators=[MaxValueValidator(LATEST, message=_("日期不能晚于 %(limit_value)s。"))],
        **kwargs,
    )


class ServiceForm(forms.Form):
    """A form whose ``apply_service_error`` shows a service's ValidationError inline."""

    def apply_service_error(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, error)


class PeriodForm(ServiceForm):
    """A new period ``[starts_on, ends_on]``; the date pickers start at today."""

    starts_on = date_field(_("开始日期"))
    ends_on = date_field(_("截止日期"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        day = today().isoformat()
        self.fields["starts_on"].widget.attrs["min"] = day
        self.fields["ends_on"].widget.attrs["min"] = day


class AuthorizeForm(PeriodForm):
    organization = forms.ModelChoiceField(
        label=_("商家/机构"),
        queryset=Organization.objects.all(),
        widget=forms.HiddenInput,
        error_messages={"required": _("请先搜索并选择商家/机构。"), "invalid_choice": _("所选商家/机构不存在。")},
    )
    field_order = ["organization", "starts_on", "ends_on"]


class RenewEarlyForm(ServiceForm):
    ends_on = date_field(_("新的截止日期"))

    def __init__(self, *args, grant, **kwargs):
        super().__init__(*args, **kwargs)
        if grant.ends_on < LATEST:
            self.fields["ends_on"].widget.attrs["min"] = (grant.ends_on + datetime.timedelta(days=1)).isoformat()


class RenewForm(PeriodForm):
    """续约: an expired grant's new period."""
