"""The organization's pages: 个人中心, the perspective switcher, 申请全部带货数据 and 申请续约 (SPEC §7, §9)."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from portal.converters import parse_id
from portal.models import Creator
from portal.pagination import paginate

from .. import access, services
from .. import perspective as perspectives
from ..context_processors import shell_labels
from ..forms import (
    RequestExtensionForm,
    RequestGrantForm,
)
from ..models import (
    Grant,
    GrantRequest,
    LivestreamAccessEvent,
    LivestreamAccessRequest,
    today,
)
from .common import _nearest_expiry_page, _search_param, _shell_counts, _status_param, _tabs
from .grants import _grant_request_rows, _render_action, _safe_next

# --- organization: 个人中心 ---------------------------------------------------------------------


ORG_PARTIALS = ("org-request-list", "org-grant-request-list")


@require_GET
def org_home(request: HttpRequest) -> HttpResponse:
    """个人中心. Every member sees the organization's livestream requests with their status, reason
    and history; the main account also its creators' grants and its full-data and extension
    requests. Queries: the livestream requests and their history (two), the counts with the bell
    (one); for the main account, the grants (one) and the requests with their history (two)."""
    who = access.party(request.user)
    if who.membership is None:
        raise PermissionDenied
    organization_id = who.membership.organization_id
    context = {"membership": who.membership, "organization": who.organization, "party": who}
    requests = LivestreamAccessRequest.objects.for_organization(organization_id).newest_first()
    context["org_requests"] = paginate(
        _request_history(requests.select_related("livestream__creator", "requested_by")), request,
        param="requests_page",
    )  # fmt: skip
    grants = None
    if who.sees_full_data_grants:
        status, term = _status_param(request.GET), _search_param(request.GET)
        grants = Grant.objects.for_organization(organization_id).latest_per_pair().search_creator(term)
        context.update(status=status, q=term)
    else:  # a sub-account: the creators delegated to it (SPEC §12), one query
        context["my_delegations"] = access.switchable(request.user, SWITCHER_OPTIONS)
    counts = _shell_counts(request, None, grants.by_status() if grants is not None else {})
    context.update(shell_labels(counts))
    if grants is not None:
        context.update(_org_grant_list(request, grants, counts, context["status"]))
        own = GrantRequest.objects.for_organization(organization_id).newest_first()
        context["grant_requests"] = paginate(
            _grant_request_rows(own.select_related("creator")), request, param="grant_requests_page"
        )
    template = "grants/org_home.html"
    if request.htmx and not request.htmx.boosted:
        if request.htmx.target in ORG_PARTIALS:
            template += f"#{request.htmx.target}"
        elif who.sees_full_data_grants:
            template += "#creator-list"
    return render(request, template, context)


def _org_grant_list(request: HttpRequest, grants, counts: dict, status: str | None) -> dict:
    """The organization's creators, each with its latest grant and what that grant opens today."""
    if status:
        grants = grants.with_status_in([status])
    page = _nearest_expiry_page(grants.select_related("creator"), request)
    for grant in page:
        grant.viewer_access = access.grant_access(request.user, grant)
    return {"page": page, "tabs": _tabs(counts)}


def _request_history(queryset):
    return queryset.prefetch_related(
        Prefetch("events", queryset=LivestreamAccessEvent.objects.select_related("actor__creator"))
    )


SWITCHER_OPTIONS = 12


def _switching_party(request: HttpRequest) -> access.PartyAccess:
    who = access.party(request.user)
    if not who.may_switch:
        raise PermissionDenied
    return who


@require_GET
def perspective_menu(request: HttpRequest) -> HttpResponse:
    """The switcher's menu, fetched when it opens: the creators whose data ``grants.access`` opens to
    the user, nearest end first."""
    _switching_party(request)
    options = access.switchable(request.user, SWITCHER_OPTIONS)
    return render(request, "grants/_perspective_menu.html", {"options": options, "limit": SWITCHER_OPTIONS})


@require_POST
def switch_perspective(request: HttpRequest) -> HttpResponse:
    """Choose whose data to view: a creator (``creator_access`` must open it) or the organization."""
    _switching_party(request)
    creator_id = request.POST.get("creator")
    if not creator_id:
        perspectives.forget(request)
        return redirect("grants:org_home")
    if parse_id(creator_id) is None:
        raise Http404
    chosen = perspectives.choose(request, parse_id(creator_id))
    # The first page the answer opens (SPEC §12: a scope may leave out the overview).
    if chosen.access.may_view_any(("overview", "products")):
        return redirect("livestreams:creator_overview", creator_id=chosen.creator.pk)
    if chosen.access.may_view("livestreams"):
        return redirect("livestreams:creator_livestreams", creator_id=chosen.creator.pk)
    return redirect("livestreams:org_livestreams")  # the modules only: from the livestreams cooperated in


# --- organization: 申请全部带货数据, 申请续约 ---------------------------------------------------------


def _requesting_party(request: HttpRequest) -> access.PartyAccess:
    who = access.party(request.user)
    if not who.may_request_full_data:
        raise PermissionDenied
    return who


def _creator_results(organization_id: int, term: str) -> list[Creator]:
    """Up to 10 creators whose name or Douyin ID contains ``term``, each with the organization's
    latest grant from them and its pending request (three queries)."""
    creators = list(Creator.objects.search(term).order_by("name", "pk")[:10])
    ids = [creator.pk for creator in creators]
    latest = {
        g.creator_id: g
        for g in Grant.objects.for_organization(organization_id).latest_per_pair().filter(creator_id__in=ids)
    }
    pending = {
        r.creator_id: r
        for r in GrantRequest.objects.for_organization(organization_id).pending().filter(creator_id__in=ids)
    }
    for creator in creators:
        creator.latest_grant = latest.get(creator.pk)
        creator.pending_request = pending.get(creator.pk)
    return creators


@require_http_methods(["GET", "POST"])
def request_grant(request: HttpRequest) -> HttpResponse:
    """申请全部带货数据: find the creator by name or Douyin ID, propose a period and a message."""
    who = _requesting_party(request)
    if request.method == "POST":
        form = RequestGrantForm(request.POST)
        if form.is_valid():
            try:
                grant_request = services.request_grant(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.apply_service_error(error)
            else:
                message = _("已向「%(creator)s」提交申请，等待达人处理。") % {"creator": grant_request.creator.name}
                return _org_done(request, message)
    else:
        day = today()
        initial = {"starts_on": day, "ends_on": day + datetime.timedelta(days=89)}
        creator_id = parse_id(request.GET.get("creator"))
        if creator_id is not None:
            initial["creator"] = creator_id
        form = RequestGrantForm(initial=initial)
    term = _search_param(request.GET)
    context = {
        "form": form,
        "q": term,
        "results": _creator_results(who.membership.organization_id, term) if term else [],
        "selected": _selected_creator(who.membership.organization_id, form),
        "next": _safe_next(request) or "",
    }
    return _render_action(request, "grants/request_grant.html", context, status=422 if form.errors else 200)


def _selected_creator(organization_id: int, form: RequestGrantForm) -> Creator | None:
    pk = parse_id(form["creator"].value())
    if pk is None:
        return None
    found = Creator.objects.filter(pk=pk).first()
    if found is not None:
        latest = Grant.objects.for_organization(organization_id).latest_per_pair()
        found.latest_grant = latest.filter(creator=found).first()
    return found


@require_GET
def creator_search(request: HttpRequest) -> HttpResponse:
    """The request page's active search: result items only."""
    who = _requesting_party(request)
    term = _search_param(request.GET)
    context = {"q": term, "results": _creator_results(who.membership.organization_id, term) if term else []}
    return render(request, "grants/request_grant.html#creator-results", context)


@require_http_methods(["GET", "POST"])
def request_extension(request: HttpRequest, grant_id: int) -> HttpResponse:
    """申请续约 on one of the organization's grants: a new end (scheduled, active) or a new period
    (expired)."""
    who = _requesting_party(request)
    grant = get_object_or_404(
        Grant.objects.for_organization(who.membership.organization_id).select_related("creator", "organization"),
        pk=grant_id,
    )
    initial = {"starts_on": today(), "ends_on": grant.ends_on + datetime.timedelta(days=90)}
    form = RequestExtensionForm(request.POST if request.method == "POST" else None, grant=grant, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.request_extension(grant=grant, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            return _org_done(
                request, _("已向「%(creator)s」提交续约申请，等待达人处理。") % {"creator": grant.creator.name}
            )
    context = {"grant": grant, "form": form, "next": _safe_next(request) or ""}
    return _render_action(request, "grants/request_extension.html", context, status=422 if form.errors else 200)


def _org_done(request: HttpRequest, message: str) -> HttpResponse:
    """A request made: back to 个人中心 (or ``next``); HTMX reloads the page it came from."""
    messages.success(request, message)
    if not request.htmx:
        return redirect(_safe_next(request) or reverse("grants:org_home"))
    return HttpResponseClientRefresh()
