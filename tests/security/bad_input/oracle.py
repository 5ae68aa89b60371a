"""The oracle: what a page must answer, from the rules of the one spec model (``tests/model/spec_model.py``).

The spec model says whether an input is refused and by which rule (its code); this module reads a
post's values as the spec model takes them and says where and how a page shows each refusal: on
which field its inline error is, and a part of its text.
"""

from __future__ import annotations

import datetime

from tests.model import spec_model as spec

from .helpers import MISSING


def today() -> datetime.date:
    """SPEC §4: the current date in the platform's timezone."""
    return spec.day_of(datetime.datetime.now(datetime.UTC))


def value_of(posted: str) -> str | None:
    """A posted value as the spec model takes it: a field left out of the post is ``None``."""
    return None if posted == MISSING else posted


MSG_REQUIRED_DATE = "请选择日期。"
MSG_INVALID_DATE = "请输入有效的日期（YYYY-MM-DD）。"
DATE_MESSAGES = {
    "required": MSG_REQUIRED_DATE,
    "invalid": MSG_INVALID_DATE,
    "max_value": f"日期不能晚于 {spec.LATEST_DAY.isoformat()}",
}
# Where a page shows each refused rule: (the field, or None for the top of the form; a part of the text).
SHOWN = {
    "starts_in_past": ("starts_on", "开始日期不能早于今天"),
    "ends_before_start": ("ends_on", "截止日期不能早于开始日期"),
    "end_not_later": ("ends_on", "新的截止日期必须晚于当前截止日期"),
    # "…已有生效中/待生效的授权，可提前续约或解除授权。" or "…授权已到期，请使用续约。"
    "already_granted": ("organization", "该商家/机构"),
    "not_renewable_early": (None, "只能对待生效或生效中的授权提前续约"),
    "not_expired": (None, "只能对已到期的授权续约"),
    "not_revocable": (None, "只能解除待生效或生效中的授权"),
    "not_pending": (None, "只能处理待审批的申请"),
    "not_approved": (None, "只能解除已授权的申请"),
    "request_expired": (None, "已过期，不能再处理"),
    "pending_exists": (None, "已有待审批的申请"),
    "too_soon": (None, "后可再次申请"),
    "period_too_long": ("ends_on", "最长"),
    "not_extendable": (None, "不能续约"),
    "max_length": (None, "最多"),
}


def grant_date(posted: str) -> datetime.date | spec.Refused:
    return spec.grant_date(value_of(posted))


def field_errors(**posted: str) -> list[tuple[str, str | None]]:
    """The inline errors the date fields of a grant's form must show: (field, message); a value with
    a NUL byte may be refused by Django's null-character check instead, with its own message."""
    errors = []
    for field, value in posted.items():
        refusal = grant_date(value)
        if isinstance(refusal, spec.Refused):
            errors.append((field, None if "\x00" in value else DATE_MESSAGES[refusal.code]))
    return errors


def shown(refusal: spec.Refused | None) -> list[tuple[str | None, str]]:
    """The inline error a refused rule shows (none when nothing is refused)."""
    return [] if refusal is None else [SHOWN[refusal.code]]


def status_of(grant) -> str:
    """A ``Grant`` row's status today, by the spec model (not by the model's own ``status``)."""
    revoked = grant.revoked_at is not None
    return spec.grant_status(starts_on=grant.starts_on, ends_on=grant.ends_on, revoked=revoked, today=today())


def range_refused(params: dict[str, str]) -> bool:
    """Whether the data pages refuse the range ``params`` ask for (they then show the default range
    and say why)."""
    return spec.range_refusal(preset=params.get("range"), start=params.get("start"), end=params.get("end")) is not None


def parse_pk(value: str) -> int | str:
    """The organization picker's hidden id as the form reads it."""
    if value in (MISSING, ""):
        return "required"
    try:
        return int(value)
    except ValueError:
        return "invalid"
