"""Forms parse and check the shape of input; the rules themselves are the services'."""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from portal.models import Creator, Membership, Organization, User

from .models import PART_LABELS, PARTS, AccessPage, today

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


SCOPE_CHOICES = [(part, PART_LABELS[part]) for part in PARTS]


class ScopeMixin(forms.Form):
    """授权范围 (SPEC §12): the four parts as checkboxes. ``scope_shown`` (a hidden input beside the
    checkboxes) tells "none ticked" (refused by the service: ``empty_scope``) from a client that
    did not show them (None: the whole scope, or the grant's own)."""

    scope = forms.MultipleChoiceField(
        label=_("授权范围"),
        choices=SCOPE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("授权范围无效。")},
    )
    scope_shown = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        shown = cleaned.pop("scope_shown", False)
        if not shown and not cleaned.get("scope"):
            cleaned["scope"] = None
        return cleaned


class AuthorizeForm(ScopeMixin, PeriodForm):
    organization = forms.ModelChoiceField(
        label=_("商家/机构"),
        queryset=Organization.objects.all(),
        widget=forms.HiddenInput,
        error_messages={"required": _("请先搜索并选择商家/机构。"), "invalid_choice": _("所选商家/机构不存在。")},
    )
    field_order = ["organization", "starts_on", "ends_on", "scope"]


class RenewEarlyForm(ServiceForm):
    ends_on = date_field(_("新的截止日期"))

    def __init__(self, *args, grant, **kwargs):
        super().__init__(*args, **kwargs)
        if grant.ends_on < LATEST:
            self.fields["ends_on"].widget.attrs["min"] = (grant.ends_on + datetime.timedelta(days=1)).isoformat()


class RenewForm(PeriodForm):
    """续约: an expired grant's new period."""


# --- requests (SPEC §9) ---------------------------------------------------------------------------

TEXT_MAX = 200


def text_field(label, help_text="") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=TEXT_MAX,
        strip=True,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": TEXT_MAX}),
        error_messages={"max_length": _("最多 %(limit_value)d 个字（当前 %(show_value)d 个）。")},
    )


class RequestGrantForm(PeriodForm):
    """申请全部带货数据: the creator (picked by the search), the proposed period and a message."""

    creator = forms.ModelChoiceField(
        label=_("达人"),
        queryset=Creator.objects.all(),
        widget=forms.HiddenInput,
        error_messages={"required": _("请先搜索并选择达人。"), "invalid_choice": _("所选达人不存在。")},
    )
    message = text_field(_("留言（选填）"), _("最多 200 个字，达人处理申请时可以看到。"))
    field_order = ["creator", "starts_on", "ends_on", "message"]


class RequestExtensionForm(PeriodForm):
    """申请续约: a new end for a scheduled or active grant; a new period for an expired one."""

    message = text_field(_("留言（选填）"), _("最多 200 个字，达人处理申请时可以看到。"))

    def __init__(self, *args, grant, **kwargs):
        super().__init__(*args, **kwargs)
        if grant.can_renew_early():
            del self.fields["starts_on"]
            self.fields["ends_on"].label = _("新的截止日期")
            if grant.ends_on < LATEST:
                self.fields["ends_on"].widget.attrs["min"] = (grant.ends_on + datetime.timedelta(days=1)).isoformat()


class ApproveRequestForm(ScopeMixin, PeriodForm):
    """授权 a request: the proposed period, editable; only the new end for an extension of a
    scheduled or active grant (its renewal starts tomorrow, fixed); and the scope (a new grant's,
    or the extended grant's, kept unless changed)."""

    def __init__(self, *args, grant_request, **kwargs):
        super().__init__(*args, **kwargs)
        grant = grant_request.grant
        if grant_request.is_extension and grant is not None and grant.can_renew_early():
            del self.fields["starts_on"]
            self.fields["ends_on"].label = _("新的截止日期")


class ScopeForm(ScopeMixin, ServiceForm):
    """修改授权范围: the grant's new scope."""


class DelegateForm(ScopeMixin, ServiceForm):
    """子账号授权: one of the organization's sub-accounts, the end (within the grant) and the scope
    (within the grant's)."""

    sub_account = forms.ModelChoiceField(
        label=_("子账号"),
        queryset=User.objects.none(),
        error_messages={"required": _("请选择子账号。"), "invalid_choice": _("只能授权给本机构的子账号。")},
    )
    ends_on = date_field(_("截止日期"))
    field_order = ["sub_account", "ends_on", "scope"]

    def __init__(self, *args, grant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sub_account"].queryset = User.objects.filter(
            membership__organization_id=grant.organization_id, membership__role=Membership.Role.SUB
        ).order_by("username")
        self.fields["sub_account"].label_from_instance = lambda user: user.get_full_name() or user.username
        self.fields["ends_on"].widget.attrs.update(min=today().isoformat(), max=grant.ends_on.isoformat())


class DelegationAllowedForm(ServiceForm):
    allowed = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0")], coerce=lambda value: value == "1",
        error_messages={"required": _("请选择。"), "invalid_choice": _("请选择。")},
    )  # fmt: skip


class DeclineForm(ServiceForm):
    reason = text_field(_("拒绝理由（选填）"), _("最多 200 个字，申请方可以看到。"))


class BulkForm(forms.Form):
    """A bulk action's choice (``choose``: approve or decline) and its one reason; the ids are read
    with ``grants.bulk.parse_ids``."""

    action = forms.ChoiceField(
        choices=[("approve", "approve"), ("decline", "decline")],
        error_messages={"required": _("请选择批量操作。"), "invalid_choice": _("请选择批量操作。")},
    )
    reason = text_field(_("拒绝理由（选填，用于批量拒绝）"))

    def __init__(self, *args, choose: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not choose:
            del self.fields["action"]


# --- the data-access log's filters (SPEC §11) ---------------------------------------------------------


class AccessLogFilterForm(forms.Form):
    """The filters of 数据访问记录 and its CSV. A value that does not parse is ignored (the list shows
    unfiltered by it) and said so; nothing here is a rule."""

    q = forms.CharField(required=False, max_length=50, strip=True)
    organization = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    kind = forms.ChoiceField(required=False, choices=[("", "")])  # the page kind ("page" is the pagination's)
    start = date_field(_("开始日期"), required=False)
    end = date_field(_("结束日期"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", _("全部页面")), *AccessPage.choices]

    def filters(self) -> dict:
        """The valid filters, each None when absent or invalid."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        cleaned = {name: data.get(name) for name in ("q", "organization", "kind", "start", "end")}
        cleaned["q"] = (cleaned["q"] or "").replace("\x00", "")
        return cleaned
