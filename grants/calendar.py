"""What the private calendar feed shows (SPEC §10; the feed itself is ``notifications/calendar.py``):
for a creator, the last day of each of their scheduled or active grants; for an organization's main
account, the last day of each scheduled or active grant to its organization. One event per grant,
its UID named after the grant, so a renewal moves the event instead of adding one."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from notifications import calendar
from portal.models import Membership

from .models import Grant

# The most events one feed carries (nearest ends first): a calendar program fetches the whole feed.
MAX_EVENTS = 1000


def _party(user) -> tuple:
    creator = user.creator_or_none
    if creator is not None:
        return "creator", creator
    membership = user.membership_or_none
    if membership is not None and membership.role == Membership.Role.MAIN:
        return "organization", membership
    return None, None


def eligible(user) -> bool:
    return _party(user)[0] is not None


def uid(grant: Grant) -> str:
    host = settings.PORTAL_BASE_URL.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "portal"
    return f"grant-{grant.pk}@{host}"


def entries(user) -> list[calendar.Entry]:
    side, party = _party(user)
    if side == "creator":
        grants = Grant.objects.for_creator(party)
    elif side == "organization":
        grants = Grant.objects.held_by_main_account(user)
    else:
        return []
    grants = grants.live().select_related("creator", "organization").order_by("ends_on", "pk")[:MAX_EVENTS]
    found = []
    for grant in grants:
        names = {"creator": grant.creator.name, "org": grant.organization.name}
        names.update(start=grant.starts_on.isoformat(), end=grant.ends_on.isoformat())
        if side == "creator":
            summary = _("对「%(org)s」的数据授权到期") % names
        else:
            summary = _("「%(creator)s」的数据授权到期") % names
        description = _("全部带货数据授权：%(creator)s → %(org)s，%(start)s 至 %(end)s（含当天）。") % names
        found.append(
            calendar.Entry(
                uid=uid(grant),
                day=grant.ends_on,
                summary=summary,
                description=description,
                link=reverse("grants:grant_detail", args=[grant.pk]),
                modified=grant.updated_at,
            )
        )
    return found


calendar.register(eligible=eligible, entries=entries)
