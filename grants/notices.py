"""The messages grants sends (SPEC §10, "What is sent, to whom"): each kind registered with the
inbox, and one function per event that picks the recipients and the parameters.

A message stores its kind and parameters (names, dates as ISO strings, codes), never a sentence:
the text below is rendered when the message is read, in the reader's language. Every function is
called by a service of ``grants/services.py`` inside its transaction. The reminders and the
"request expired" messages are sent by the scheduled job (issue 14); their kinds are here so the
inbox shows them like the others.
"""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from notifications import services as inbox
from notifications.kinds import Category, register
from portal.models import Creator, Membership

from .models import PART_LABELS, PARTS, Delegation

# --- rendering, at read time ---------------------------------------------------------------------


def _day(value) -> str:
    try:
        return date_format(datetime.date.fromisoformat(value), "Y-m-d")
    except (TypeError, ValueError):
        return "?"


def _period(p: dict) -> str:
    if p.get("starts_on"):
        return _("%(start)s 至 %(end)s") % {"start": _day(p["starts_on"]), "end": _day(p.get("ends_on"))}
    return _("截止日期延长至 %(end)s") % {"end": _day(p.get("ends_on"))}


def _request_kind(p: dict) -> str:
    return _("续约申请") if p.get("request_kind") == "extension" else _("全部带货数据申请")


def _reason(p: dict) -> str:
    return _("理由：%(reason)s") % {"reason": p["reason"]} if p.get("reason") else _("未填写理由。")


def _grant_request_received(p: dict) -> str:
    text = _("「%(org)s」提交了%(kind)s：%(period)s。") % {
        "org": p.get("organization", ""), "kind": _request_kind(p), "period": _period(p),
    }  # fmt: skip
    if p.get("message"):
        text += " " + _("留言：%(message)s") % {"message": p["message"]}
    return text


def _scope(p: dict) -> str:
    parts = p.get("scope") or []
    return "、".join(str(PART_LABELS[part]) for part in PARTS if part in parts) or "—"


def _grant_changed(p: dict) -> str:
    names = {"creator": p.get("creator", ""), "period": _period(p), "scope": _scope(p)}
    operation = p.get("operation")
    if p.get("delegated"):
        names["org"] = p.get("organization", "")
        if operation == "revoke":
            return _("「%(creator)s」已解除对「%(org)s」的全部带货数据授权，你的子账号授权随之失效。") % names
        if operation == "change_scope":
            return _("「%(creator)s」修改了对「%(org)s」的授权范围：%(scope)s；你的子账号授权仅限其中的部分。") % names
        return _("「%(creator)s」对「%(org)s」的授权已更新：%(period)s。") % names
    if operation == "change_scope":
        return _("「%(creator)s」修改了对本机构的授权范围：%(scope)s。") % names
    if operation == "authorize":
        return _("「%(creator)s」已授权本机构查看其全部带货数据：%(period)s。") % names
    if operation == "revoke":
        return _("「%(creator)s」已解除对本机构的全部带货数据授权，立即生效。") % names
    return _("「%(creator)s」已为本机构续约全部带货数据授权：%(period)s。") % names


def _grant_changed_title(p: dict) -> str:
    return {
        "authorize": _("新的全部数据授权"),
        "revoke": _("全部数据授权已解除"),
        "change_scope": _("授权范围已修改"),
    }.get(p.get("operation"), _("全部数据授权已续约"))


def _delegation_changed(p: dict) -> str:
    names = {
        "creator": p.get("creator", ""), "org": p.get("organization", ""), "scope": _scope(p),
        "end": _day(p.get("ends_on")),
    }  # fmt: skip
    operation = p.get("operation")
    if operation == "delegate":
        return (
            _("主账号已将「%(creator)s」的数据授权给你：%(scope)s，至 %(end)s。可在左上角切换到该达人视角查看。")
            % names
        )
    if operation == "forbidden":
        return _("「%(creator)s」已禁止子账号授权，你对其数据的子账号授权已结束。") % names
    return _("主账号已结束你对「%(creator)s」数据的子账号授权。") % names


def _delegation_changed_title(p: dict) -> str:
    return _("新的子账号授权") if p.get("operation") == "delegate" else _("子账号授权已结束")


def _livestream(p: dict) -> dict:
    return {"creator": p.get("creator", ""), "title": p.get("livestream", ""), "org": p.get("organization", "")}


KINDS = {
    "grant_request_received": (
        Category.REQUESTS,
        lambda p: _("新的续约申请") if p.get("request_kind") == "extension" else _("新的全部数据申请"),
        _grant_request_received,
    ),
    "livestream_request_received": (
        Category.REQUESTS,
        lambda p: _("新的直播间数据申请"),
        lambda p: _("「%(org)s」申请查看直播「%(title)s」的更多数据。") % _livestream(p),
    ),
    "grant_changed": (Category.DECISIONS, _grant_changed_title, _grant_changed),
    "delegation_changed": (Category.DECISIONS, _delegation_changed_title, _delegation_changed),
    "grant_request_approved": (
        Category.DECISIONS,
        lambda p: _("申请已通过"),
        lambda p: (
            _("「%(creator)s」同意了本机构的%(kind)s，授权期限：%(period)s。")
            % {"creator": p.get("creator", ""), "kind": _request_kind(p), "period": _period(p)}
        ),
    ),
    "grant_request_declined": (
        Category.DECISIONS,
        lambda p: _("申请被拒绝"),
        lambda p: (
            _("「%(creator)s」拒绝了本机构的%(kind)s。") % {"creator": p.get("creator", ""), "kind": _request_kind(p)}
            + " "
            + _reason(p)
        ),
    ),
    "grant_request_expired": (
        Category.DECISIONS,
        lambda p: _("申请已过期"),
        lambda p: (
            _("「%(creator)s」7 天内未处理本机构的%(kind)s，申请已过期，可重新申请。")
            % {"creator": p.get("creator", ""), "kind": _request_kind(p)}
        ),
    ),
    "livestream_request_approved": (
        Category.DECISIONS,
        lambda p: _("直播间数据申请已通过"),
        lambda p: _("「%(creator)s」已授权查看直播「%(title)s」的全部数据。") % _livestream(p),
    ),
    "livestream_request_declined": (
        Category.DECISIONS,
        lambda p: _("直播间数据申请被拒绝"),
        lambda p: _("「%(creator)s」拒绝了查看直播「%(title)s」数据的申请。") % _livestream(p) + " " + _reason(p),
    ),
    "livestream_request_expired": (
        Category.DECISIONS,
        lambda p: _("直播间数据申请已过期"),
        lambda p: (
            _("「%(creator)s」7 天内未处理查看直播「%(title)s」数据的申请，申请已过期，可重新申请。") % _livestream(p)
        ),
    ),
    "livestream_request_ended": (
        Category.DECISIONS,
        lambda p: _("直播间数据申请已失效"),
        lambda p: (
            _("直播「%(title)s」已不再属于「%(creator)s」，本机构对它的申请或授权已失效，可向新的达人重新申请。")
            % _livestream(p)
        ),
    ),
    "livestream_access_revoked": (
        Category.DECISIONS,
        lambda p: pgettext("message title", "直播间数据授权已解除"),
        lambda p: _("「%(creator)s」已解除直播「%(title)s」的数据授权。") % _livestream(p),
    ),
}


def _ending(p: dict, *, today: bool) -> str:
    names = {"creator": p.get("creator", ""), "org": p.get("organization", ""), "end": _day(p.get("ends_on"))}
    if p.get("side") == "creator":
        if today:
            return _("您对「%(org)s」的全部带货数据授权今天到期（%(end)s），今天结束后对方将无法查看。") % names
        return _("您对「%(org)s」的全部带货数据授权将于 7 天后（%(end)s）到期。") % names
    if today:
        return _("「%(creator)s」对本机构的全部带货数据授权今天到期（%(end)s），如需继续查看请尽快申请续约。") % names
    return _("「%(creator)s」对本机构的全部带货数据授权将于 7 天后（%(end)s）到期，如需继续查看可申请续约。") % names


KINDS.update(
    {
        # Reminders (SPEC §10), sent by the scheduled job (grants/reminders.py).
        "grant_ends_in_7_days": (
            Category.REMINDERS,
            lambda p: _("授权将于 7 天后到期"),
            lambda p: _ending(p, today=False),
        ),
        "grant_ends_today": (Category.REMINDERS, lambda p: _("授权今天到期"), lambda p: _ending(p, today=True)),
        "grant_request_waiting": (
            Category.REMINDERS,
            lambda p: _("申请等待处理"),
            lambda p: (
                _("「%(org)s」的%(kind)s已等待 5 天，7 天内未处理将自动过期。")
                % {"org": p.get("organization", ""), "kind": _request_kind(p)}
            ),
        ),
        "livestream_request_waiting": (
            Category.REMINDERS,
            lambda p: _("直播间数据申请等待处理"),
            lambda p: (
                _("「%(org)s」查看直播「%(title)s」数据的申请已等待 5 天，7 天内未处理将自动过期。") % _livestream(p)
            ),
        ),
    }
)

for _name, (_category, _title, _text) in KINDS.items():
    register(_name, category=_category, title=_title, text=_text)


# --- who is told of what, written in the service's transaction -----------------------------------


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None


def main_account(organization_id: int):
    """The organization's main account (one query), or None."""
    membership = (
        Membership.objects.select_related("user")
        .filter(organization_id=organization_id, role=Membership.Role.MAIN)
        .first()
    )
    return membership.user if membership else None


def grant_audiences(grants) -> dict[int, list[tuple]]:
    """Who is reminded of each grant's end (SPEC §10): ``{grant.pk: [(user, side), …]}`` with side
    "creator" (the creator), "organization" (its main account) or "delegate" (a sub-account holding
    an open delegation of it while still a sub-account of the grant's organization, SPEC §12). Two
    queries for any number of grants (their creators' users loaded with them)."""
    grants = list(grants)
    mains: dict[int, list] = {}
    memberships = Membership.objects.select_related("user").filter(
        organization_id__in={g.organization_id for g in grants}, role=Membership.Role.MAIN
    )
    for membership in memberships:
        mains.setdefault(membership.organization_id, []).append(membership.user)
    delegates: dict[int, list] = {}
    delegations = (
        Delegation.objects.filter(grant_id__in=[g.pk for g in grants])
        .held()
        .select_related("sub_account")
        .order_by("pk")
    )
    for delegation in delegations:
        delegates.setdefault(delegation.grant_id, []).append(delegation.sub_account)
    return {
        grant.pk: [(grant.creator.user, "creator")]
        + [(user, "organization") for user in mains.get(grant.organization_id, [])]
        + [(user, "delegate") for user in delegates.get(grant.pk, [])]
        for grant in grants
    }


def grant_audience(grant) -> list[tuple]:
    """``grant_audiences`` for one grant."""
    return grant_audiences([grant])[grant.pk]


def grant_request_received(grant_request) -> None:
    """A new full-data or extension request: its creator is told."""
    inbox.notify(
        recipients=[grant_request.creator.user],
        kind="grant_request_received",
        params={
            "organization": grant_request.organization.name,
            "request_kind": grant_request.kind,
            "starts_on": _iso(grant_request.starts_on),
            "ends_on": _iso(grant_request.ends_on),
            "message": grant_request.message,
        },
        link=reverse("grants:grant_request_detail", args=[grant_request.pk]),
    )


def delegates_of(grant) -> list:
    """The sub-accounts holding a delegation of ``grant`` (not ended nor past its end, and still a
    sub-account of the grant's organization): SPEC §10 tells them of the grant's changes."""
    delegations = Delegation.objects.for_grant(grant).held().select_related("sub_account")
    return [delegation.sub_account for delegation in delegations]


def grant_changed(grant, operation: str, delegates=None) -> None:
    """A grant authorized, renewed (early or not), revoked or its scope changed: the organization's
    main account, and the sub-accounts holding a delegation of it (``delegates``: those computed
    before the change, else now)."""
    params = {
        "creator": grant.creator.name,
        "operation": operation,
        "starts_on": _iso(grant.starts_on),
        "ends_on": _iso(grant.ends_on),
        "scope": [part for part in PARTS if part in grant.parts],
    }
    inbox.notify(
        recipients=[main_account(grant.organization_id)],
        kind="grant_changed",
        params=params,
        link=reverse("grants:grant_detail", args=[grant.pk]),
    )
    delegates = delegates_of(grant) if delegates is None else delegates
    if delegates:
        inbox.notify(
            recipients=delegates,
            kind="grant_changed",
            params={**params, "delegated": True, "organization": grant.organization.name},
            link=reverse("grants:org_home"),
        )


def delegation_changed(delegation, operation: str) -> None:
    """A delegation made, ended by the main account, or ended because the creator forbade it: the
    sub-account."""
    grant = delegation.grant
    inbox.notify(
        recipients=[delegation.sub_account],
        kind="delegation_changed",
        params={
            "creator": grant.creator.name,
            "organization": grant.organization.name,
            "operation": operation,
            "ends_on": _iso(delegation.ends_on),
            "scope": [part for part in PARTS if part in delegation.parts],
        },
        link=reverse("grants:org_home"),
    )


def grant_request_decided(grant_request, grant=None) -> None:
    """A full-data or extension request approved (with the grant's period) or declined (with the
    reason): the organization's main account."""
    approved = grant is not None
    params = {"creator": grant_request.creator.name, "request_kind": grant_request.kind}
    if approved:
        params.update(starts_on=_iso(grant.starts_on), ends_on=_iso(grant.ends_on))
    else:
        params["reason"] = grant_request.reason
    inbox.notify(
        recipients=[main_account(grant_request.organization_id)],
        kind="grant_request_approved" if approved else "grant_request_declined",
        params=params,
        link=reverse("grants:grant_detail", args=[grant.pk])
        if approved
        else reverse("grants:grant_request_detail", args=[grant_request.pk]),
    )


def _livestream_params(access_request) -> dict:
    livestream = access_request.livestream
    return {
        "creator": livestream.creator.name,
        "livestream": livestream.title,
        "organization": access_request.organization.name,
        "reason": access_request.reason,
    }


def livestream_request_received(access_request) -> None:
    """A new livestream request: the livestream's creator."""
    inbox.notify(
        recipients=[access_request.livestream.creator.user],
        kind="livestream_request_received",
        params=_livestream_params(access_request),
        link=reverse("grants:creator_requests") + f"#request-row-{access_request.pk}",
    )


def livestream_request_decided(access_request, kind: str) -> None:
    """Approved, declined (with the reason) or revoked: the requester and the main account."""
    inbox.notify(
        recipients=[access_request.requested_by, main_account(access_request.organization_id)],
        kind=kind,
        params=_livestream_params(access_request),
        link=reverse("livestreams:detail", args=[access_request.livestream_id]),
    )


def livestream_requests_ended(ended) -> None:
    """Requests ended because their livestream went to another creator: each request's requester
    and its organization's main account, naming the creator the request was made to."""
    creators = {c.pk: c.name for c in Creator.objects.filter(pk__in={r.creator_id for r in ended})}
    for access_request in ended:
        inbox.notify(
            recipients=[access_request.requested_by, main_account(access_request.organization_id)],
            kind="livestream_request_ended",
            params={
                "creator": creators.get(access_request.creator_id, ""),
                "livestream": access_request.livestream.title,
                "organization": access_request.organization.name,
            },
            link=reverse("livestreams:org_livestreams"),
        )
