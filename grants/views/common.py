"""Helpers shared by the authorization pages: the acting creator, tab and search parameters, the
shell's counts, the nearest-expiry page."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _

from portal.models import Creator
from portal.pagination import paginate

from .. import access
from ..context_processors import shell_querysets
from ..models import (
    GrantStatus,
    today,
)
from ..speedups import capped_counts, count_label, nearest_expiry_rows

SEARCH_MAX = 50


def _creator_of(request: HttpRequest) -> Creator:
    who = access.party(request.user)
    if not who.manages_grants:
        raise PermissionDenied
    return who.creator


def _status_param(querydict: QueryDict) -> str | None:
    status = querydict.get("status")
    return status if status in GrantStatus.values else None


# The creator's 数据授权管理 shows, besides the grants by status, two tabs of full-data and extension
# requests: the pending ones (待处理, to decide) and all of them (申请记录, with their history).
PENDING_TAB, REQUESTS_TAB = "pending", "requests"
# 闲置 (SPEC §11): the active grants nobody viewed anything under in the last 14 days.
IDLE_TAB = "idle"


def _shell_counts(request: HttpRequest, creator: Creator | None, querysets: dict) -> dict[str, int]:
    """Capped counts of ``querysets`` (a list's tabs) in one query, together with what the page's
    shell counts (``shell_querysets``: the creator's two pending badges, the bell unless it came with
    the user). The view passes them to the template (``shell_labels``), so the shell does not query
    again."""
    return capped_counts({**querysets, **shell_querysets(creator, request.user)})


def _search_param(querydict: QueryDict) -> str:
    # NUL cannot be stored or compared in PostgreSQL text; nobody types it in a name.
    return (querydict.get("q") or "").replace("\x00", "").strip()[:SEARCH_MAX]


def _tabs(counts: dict[str, int]) -> list[tuple[str | None, str, int | str]]:
    return [(None, _("全部"), count_label(counts["all"]))] + [
        (status, GrantStatus(status).label, count_label(counts[status])) for status in GrantStatus.values
    ]


def _creator_tabs(counts: dict[str, int]) -> list[tuple[str | None, str, int | str]]:
    return (
        [(PENDING_TAB, _("待处理"), count_label(counts[PENDING_TAB]))]
        + _tabs(counts)
        + [(IDLE_TAB, _("闲置"), count_label(counts[IDLE_TAB]))]
        + [(REQUESTS_TAB, _("申请记录"), count_label(counts[REQUESTS_TAB]))]
    )


def _nearest_expiry_page(grants, request: HttpRequest):
    """A page of ``grants`` in "nearest expiry first" order, read by ``nearest_expiry_rows``."""
    day = today()
    return paginate(lambda start, stop: nearest_expiry_rows(grants, day, start, stop), request)
