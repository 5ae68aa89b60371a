"""The creator's decisions on requests: single-livestream requests (直播间数据管理) and full-data and
extension requests in 数据授权管理, one by one and in bulk (SPEC §5, §9)."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.models import Creator
from portal.pagination import paginate
from portal.responses import after_write, current_url, page_or_fragment

from .. import access, bulk, services
from ..context_processors import shell_labels
from ..forms import (
    ApproveRequestForm,
    BulkForm,
    DeclineForm,
)
from ..models import (
    PARTS,
    Grant,
    GrantRequest,
    LivestreamAccessRequest,
    RequestStatus,
    today,
)
from ..speedups import count_label
from .common import PENDING_TAB, _creator_of, _shell_counts
from .grants import _after_action, _creator_list_context, _done, _grant_request_rows, _render_action, _safe_next
from .org import _request_history

# --- creator: 直播间数据管理 (single-livestream requests) -----------------------------------------

REQUEST_TAB_ORDER = (
    RequestStatus.PENDING,
    RequestStatus.APPROVED,
    RequestStatus.DECLINED,
    RequestStatus.REVOKED,
    RequestStatus.EXPIRED,
)


def _request_rows(queryset):
    return _request_history(queryset.select_related("organization", "livestream", "requested_by__membership"))


def _creator_requests_context(request: HttpRequest, creator: Creator, querydict: QueryDict) -> dict:
    """Queries: the tabs' counts with the badges and the bell (one), a page of rows, their history."""
    status = querydict.get("status", RequestStatus.PENDING)
    status = status if status in RequestStatus.values or status == "all" else RequestStatus.PENDING
    requests = LivestreamAccessRequest.objects.for_creator(creator)
    counts = _shell_counts(request, creator, requests.counted_by_status())
    shown = requests if status == "all" else requests.with_status(status)
    tabs = [(value, RequestStatus(value).label, count_label(counts[value])) for value in REQUEST_TAB_ORDER]
    return {
        "page": paginate(_request_rows(shown.newest_first()), request),
        "tabs": tabs + [("all", _("全部"), count_label(counts["all"]))],
        "status": status,
        "query_params": querydict,
        **shell_labels(counts),
    }


@require_GET
def creator_requests(request: HttpRequest) -> HttpResponse:
    creator = _creator_of(request)
    context = _creator_requests_context(request, creator, request.GET)
    return page_or_fragment(request, "grants/creator_requests.html", "request-list", context)


def _creator_livestream_requests(creator: Creator):
    # The request's copy of the creator, and the livestream's own (the services check it again).
    return LivestreamAccessRequest.objects.for_creator(creator).filter(livestream__creator=creator)


def _decide_request(request: HttpRequest, request_id: int, service, message: str) -> HttpResponse:
    creator = _creator_of(request)
    access_request = get_object_or_404(_creator_livestream_requests(creator), pk=request_id)
    try:
        access_request = service(request=access_request, actor=request.user)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(request, message % {"org": access_request.organization.name})
    list_url = reverse("grants:creator_requests")

    def build() -> HttpResponse:
        if not request.htmx:
            return redirect(_safe_next(request) or list_url)
        row = _request_rows(LivestreamAccessRequest.objects.filter(pk=access_request.pk)).get()
        # The row as its list shows it (the pending tab has a checkbox column); the badges come
        # from the context processor.
        current = current_url(request)
        tab = QueryDict(current.query if current else "").get("status", RequestStatus.PENDING)
        context = {"access_request": row, "status": tab}
        return render(request, "grants/_request_decided.html", context)

    return after_write(request, build, fallback=list_url)


def _requests_done(request: HttpRequest, creator: Creator, message: str, *, close: bool = True) -> HttpResponse:
    def refresh(query: QueryDict) -> HttpResponse:
        context = _creator_requests_context(request, creator, query)
        return render(request, "grants/_requests_refreshed.html", context)

    return _done(request, message, list_url=reverse("grants:creator_requests"), refresh=refresh, close=close)


@require_POST
def approve_request(request: HttpRequest, request_id: int) -> HttpResponse:
    return _decide_request(
        request, request_id, services.approve_livestream_request, _("已授权「%(org)s」查看该直播间数据。")
    )


@require_http_methods(["GET", "POST"])
def decline_request(request: HttpRequest, request_id: int) -> HttpResponse:
    """拒绝 a livestream request, with an optional reason: a dialog (or page), then the post."""
    creator = _creator_of(request)
    access_request = get_object_or_404(
        _creator_livestream_requests(creator).select_related("organization", "livestream"), pk=request_id
    )
    form = DeclineForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.decline_livestream_request(request=access_request, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            return _requests_done(
                request, creator, _("已拒绝「%(org)s」的申请。") % {"org": access_request.organization.name}
            )
    context = {
        "form": form,
        "subject": access_request,
        "action": reverse("grants:decline_request", args=[access_request.pk]),
        "cancel_url": reverse("grants:creator_requests"),
        "next": _safe_next(request) or "",
    }
    return _render_action(request, "grants/decline.html", context, status=422 if form.errors else 200)


@require_POST
def revoke_request(request: HttpRequest, request_id: int) -> HttpResponse:
    return _decide_request(
        request, request_id, services.revoke_livestream_access, _("已解除「%(org)s」的直播间数据授权。")
    )


@require_POST
def bulk_requests(request: HttpRequest) -> HttpResponse:
    """批量授权 / 批量拒绝 of livestream requests (the checked rows of 直播间数据管理)."""
    creator = _creator_of(request)

    def run(ids, action, reason):
        items = list(_creator_livestream_requests(creator).filter(pk__in=ids))
        if action == "approve":
            return bulk.approve_livestream_requests(items, ids, actor=request.user)
        return bulk.decline_livestream_requests(items, ids, actor=request.user, reason=reason)

    message = _run_bulk(request, run)
    return _requests_done(request, creator, message, close=False)


def _run_bulk(request: HttpRequest, run, *, choose: bool = True) -> str:
    """Parse a bulk form (``choose``: it carries an action, approve or decline), run it
    (``run(ids, action, reason)``), and say what happened."""
    form = BulkForm(request.POST, choose=choose)
    ids = bulk.parse_ids(request.POST.getlist("ids"))
    if not form.is_valid():
        return " ".join(text for errors in form.errors.values() for text in errors)
    if not ids:
        return _("请先勾选要处理的项目。")
    return run(ids, form.cleaned_data.get("action"), form.cleaned_data["reason"]).summary()


# --- creator: full-data and extension requests in 数据授权管理 -------------------------------------


def _creator_grant_request(request: HttpRequest, grant_request_id: int) -> tuple[Creator, GrantRequest]:
    """A request made to the creator, or 404 — another creator's is as absent as a missing one."""
    creator = _creator_of(request)
    rows = GrantRequest.objects.for_creator(creator).select_related("organization", "grant")
    grant_request = get_object_or_404(rows, pk=grant_request_id)
    grant_request.creator = creator
    return creator, grant_request


@require_GET
def grant_request_detail(request: HttpRequest, grant_request_id: int) -> HttpResponse:
    """A full-data or extension request and its history, for the creator asked and the
    organization's main account (what the messages of both link to)."""
    rows = access.visible_grant_requests(request.user).select_related("creator", "organization", "grant")
    grant_request = get_object_or_404(_grant_request_rows(rows), pk=grant_request_id)
    context = {"grant_request": grant_request, "is_owner": grant_request.creator.user_id == request.user.pk}
    return render(request, "grants/grant_request_detail.html", context)


@require_http_methods(["GET", "POST"])
def approve_grant_request(request: HttpRequest, grant_request_id: int) -> HttpResponse:
    """授权 a request, with its proposed period editable; the §4 rules apply at approval time."""
    creator, grant_request = _creator_grant_request(request, grant_request_id)
    initial = {"starts_on": grant_request.starts_on or today(), "ends_on": grant_request.ends_on}
    # A new grant covers every part unless the creator unticks some; an extension keeps its grant's.
    initial["scope"] = sorted(grant_request.grant.parts) if grant_request.grant else list(PARTS)
    form = ApproveRequestForm(
        request.POST if request.method == "POST" else None, initial=initial, grant_request=grant_request
    )
    if request.method == "POST" and form.is_valid():
        try:
            grant = services.approve_grant_request(request=grant_request, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            message = _("已同意「%(org)s」的申请：%(start)s 至 %(end)s。") % {
                "org": grant.organization.name, "start": grant.starts_on, "end": grant.ends_on,
            }  # fmt: skip
            return _after_action(request, creator, grant, message)
    context = {
        "form": form,
        "grant_request": grant_request,
        "tomorrow": today() + datetime.timedelta(days=1),
        "next": _safe_next(request) or "",
    }
    return _render_action(request, "grants/approve_grant_request.html", context, status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def decline_grant_request(request: HttpRequest, grant_request_id: int) -> HttpResponse:
    creator, grant_request = _creator_grant_request(request, grant_request_id)
    form = DeclineForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.decline_grant_request(request=grant_request, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            message = _("已拒绝「%(org)s」的申请。") % {"org": grant_request.organization.name}
            return _after_action(request, creator, None, message)
    context = {
        "form": form,
        "subject": grant_request,
        "action": reverse("grants:decline_grant_request", args=[grant_request.pk]),
        "cancel_url": reverse("grants:creator_grants") + f"?status={PENDING_TAB}",
        "next": _safe_next(request) or "",
    }
    return _render_action(request, "grants/decline.html", context, status=422 if form.errors else 200)


@require_POST
def bulk_grant_requests(request: HttpRequest) -> HttpResponse:
    """批量授权 (each with its proposed period) / 批量拒绝 (one reason) of full-data and extension requests."""
    creator = _creator_of(request)

    def run(ids, action, reason):
        items = list(GrantRequest.objects.for_creator(creator).filter(pk__in=ids))
        if action == "approve":
            return bulk.approve_grant_requests(items, ids, actor=request.user)
        return bulk.decline_grant_requests(items, ids, actor=request.user, reason=reason)

    message = _run_bulk(request, run)
    return _grants_done(request, creator, message)


@require_POST
def bulk_revoke(request: HttpRequest) -> HttpResponse:
    """批量解除授权 of the checked scheduled and active grants."""
    creator = _creator_of(request)

    def run(ids, _action, _reason):
        items = list(Grant.objects.for_creator(creator).filter(pk__in=ids).select_related("creator", "organization"))
        return bulk.revoke_grants(items, ids, actor=request.user)

    message = _run_bulk(request, run, choose=False)
    return _grants_done(request, creator, message)


def _grants_done(request: HttpRequest, creator: Creator, message: str) -> HttpResponse:
    def refresh(query: QueryDict) -> HttpResponse:
        return render(request, "grants/_action_done.html", _creator_list_context(request, creator, query))

    return _done(request, message, list_url=reverse("grants:creator_grants"), refresh=refresh, close=False)
