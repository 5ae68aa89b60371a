"""Bulk decisions (SPEC §9 "Bulk"): several requests approved or declined, several grants revoked,
in one action — each item through its own service call, so each is its own transaction with its
own history event, and a refused item is skipped with its reason while the others apply.

Posting the same form twice applies nothing twice: an item decided the first time is refused by
its service's guard the second time (``not_pending``, ``not_revocable``) and counted as skipped.
Each item costs the same fixed number of queries (its service's); the items are loaded in one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from portal.converters import parse_id

from . import services

BULK_MAX = 100  # items per action: a page of a list is 20

NOT_FOUND = "not_found"
# Why an item was skipped, by the refusal's code (anything else: "other").
SKIP_REASONS = {
    NOT_FOUND: gettext_lazy("不存在或不可操作"),
    "not_pending": gettext_lazy("已处理过"),
    "request_expired": gettext_lazy("已过期"),
    "starts_in_past": gettext_lazy("开始日期已过，需编辑期限后单独授权"),
    "ends_before_start": gettext_lazy("期限无效"),
    "already_granted": gettext_lazy("已有授权"),
    "not_extendable": gettext_lazy("授权已解除"),
    "not_renewable_early": gettext_lazy("授权状态已变化"),
    "not_expired": gettext_lazy("授权状态已变化"),
    "end_not_later": gettext_lazy("截止日期不晚于当前"),
    "not_revocable": gettext_lazy("已不是待生效或生效中的授权"),
    "forbidden": gettext_lazy("无权操作"),
    "other": gettext_lazy("其他原因"),
}


def parse_ids(values) -> list[int]:
    """The posted ids, parsed (anything else dropped), unique, in order, at most ``BULK_MAX``."""
    ids = [pk for pk in (parse_id(value) for value in values) if pk is not None]
    return list(dict.fromkeys(ids))[:BULK_MAX]


@dataclass
class BulkResult:
    applied: list = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # code -> how many

    @property
    def skipped_count(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        """ "N applied, M skipped (why)", in the active language."""
        text = ngettext("已处理 %(applied)s 项", "已处理 %(applied)s 项", len(self.applied)) % {
            "applied": len(self.applied)
        }
        if self.skipped:
            why = _("、").join(
                ngettext("%(count)s 项%(reason)s", "%(count)s 项%(reason)s", count)
                % {"count": count, "reason": SKIP_REASONS.get(code, SKIP_REASONS["other"])}
                for code, count in sorted(self.skipped.items(), key=lambda item: (-item[1], item[0]))
            )
            text += _("，跳过 %(skipped)s 项（%(why)s）") % {"skipped": self.skipped_count, "why": why}
        return text + _("。")


def _code(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        codes = [e.code for errors in error.error_dict.values() for e in errors]
    else:
        codes = [e.code for e in error.error_list]
    return codes[0] if codes else "other"


def apply_each(items: list, ids: list[int], call) -> BulkResult:
    """``call(item)`` for each of ``items`` (loaded for ``ids``; an id without an item is skipped
    as not found), each on its own; refusals are counted by their code."""
    result = BulkResult()
    found = {item.pk: item for item in items}
    for pk in ids:
        item = found.get(pk)
        if item is None:
            result.skipped[NOT_FOUND] += 1
            continue
        try:
            result.applied.append(call(item))
        except ValidationError as error:
            result.skipped[_code(error)] += 1
        except PermissionDenied:
            result.skipped["forbidden"] += 1
    return result


def approve_grant_requests(requests, ids, *, actor) -> BulkResult:
    """批量授权 of full-data and extension requests, each with its proposed period."""
    return apply_each(requests, ids, lambda r: services.approve_grant_request(request=r, actor=actor))


def decline_grant_requests(requests, ids, *, actor, reason: str = "") -> BulkResult:
    """批量拒绝, one reason for all."""
    return apply_each(requests, ids, lambda r: services.decline_grant_request(request=r, actor=actor, reason=reason))


def approve_livestream_requests(requests, ids, *, actor) -> BulkResult:
    return apply_each(requests, ids, lambda r: services.approve_livestream_request(request=r, actor=actor))


def decline_livestream_requests(requests, ids, *, actor, reason: str = "") -> BulkResult:
    return apply_each(
        requests, ids, lambda r: services.decline_livestream_request(request=r, actor=actor, reason=reason)
    )


def revoke_grants(grants, ids, *, actor) -> BulkResult:
    """批量解除授权 of scheduled and active grants."""
    return apply_each(grants, ids, lambda g: services.revoke(grant=g, actor=actor))
