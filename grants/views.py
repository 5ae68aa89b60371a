"""Authorization management pages of both perspectives (function views, HTMX partials by the view).

Each view: parse → a lookup that starts from the user → one service call → full page, partial or
redirect. Every HTMX interaction is also a plain link or form post (post/redirect/get).
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh, trigger_client_event

from portal.converters import parse_id
from portal.models import Creator, Organization
from portal.pagination import paginate
from portal.responses import after_write, current_url

from . import access, services
from . import perspective as perspectives
from .forms import AuthorizeForm, RenewEarlyForm, RenewForm
from .models import Grant, GrantStatus, LivestreamAccessEvent, LivestreamAccessRequest, RequestStatus, today
from .speedups import capped_counts, count_label, nearest_expiry_rows

SEARCH_MAX = 50


def _creator_of(request: HttpRequest) -> Creator:
    who = access.party(request.user)
    if not who.manages_grants:
        raise PermissionDenied
    return who.creator


def _status_param(querydict: QueryDict) -> str | None:
    status = querydict.get("status")
    return status if status in GrantStatus.values else None


def _search_param(querydict: QueryDict) -> str:
    # NUL cannot be stored or compared in PostgreSQL text; nobody types it in a name.
    return (querydict.get("q") or "").replace("\x00", "").strip()[:SEARCH_MAX]


def _tabs(counts: dict[str, int]) -> list[tuple[str | None, str, int | str]]:
    return [(None, _("全部"), count_label(counts["all"]))] + [
        (status, GrantStatus(status).label, count_label(counts[status])) for status in GrantStatus.values
    ]


def _nearest_expiry_page(grants, request: HttpRequest):
    """A page of ``grants`` in "nearest expiry first" order, read by ``nearest_expiry_rows``."""
    day = today()
    return paginate(lambda start, stop: nearest_expiry_rows(grants, day, start, stop), request)


# --- creator: 数据授权管理 -----------------------------------------------------------------------


def _creator_list_context(request: HttpRequest, creator: Creator, querydict: QueryDict, highlight=None) -> dict:
    status, term = _status_param(querydict), _search_param(querydict)
    grants = Grant.objects.for_creator(creator).latest_per_pair().search_organization(term)
    counts = capped_counts(grants.by_status())
    if status:
        grants = grants.with_status_in([status])
    page = _nearest_expiry_page(grants.select_related("organization"), request)
    return {
        "creator": creator,
        "page": page,
        "tabs": _tabs(counts),
        "status": status,
        "q": term,
        "highlight": highlight,
        "query_params": querydict,
    }


@require_GET
def creator_grants(request: HttpRequest) -> HttpResponse:
    creator = _creator_of(request)
    context = _creator_list_context(request, creator, request.GET)
    template = "grants/creator_grants.html"
    if request.htmx and not request.htmx.boosted:
        template += "#grant-list"
    return render(request, template, context)


def _after_action(request: HttpRequest, creator: Creator, grant: Grant, message: str) -> HttpResponse:
    """Success: HTMX refreshes the list in place (or the page); a plain post redirects (PRG). The
    change is saved: whatever the request's headers, the answer reports it (``after_write``)."""
    messages.success(request, message)
    list_url = reverse("grants:creator_grants")

    def build() -> HttpResponse:
        if not request.htmx:
            return redirect(_safe_next(request) or list_url)
        current = current_url(request)
        if current is None or current.path != list_url:
            return HttpResponseClientRefresh()
        context = _creator_list_context(request, creator, QueryDict(current.query), highlight=grant.pk)
        response = render(request, "grants/_action_done.html", context)
        return trigger_client_event(response, "close-dialog")

    return after_write(request, build, fallback=list_url)


def _safe_next(request: HttpRequest) -> str | None:
    """A local path to return to (``next``), or None: never another site, never a URL name."""
    target = request.POST.get("next") or request.GET.get("next")
    if (
        target
        and target.startswith("/")
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    ):
        return target
    return None


def _render_action(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    """The dialog fragment for HTMX, the full page otherwise (same template).

    A refused form is 422 as a page; as a fragment it is 200, because the dialog swaps it in like
    any other content (and browsers log every 4xx as a console error).
    """
    if request.htmx:
        return render(request, f"{template}#dialog-body", context)
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    creator = _creator_of(request)
    if request.method == "POST":
        form = AuthorizeForm(request.POST)
        if form.is_valid():
            try:
                grant = services.authorize(creator=creator, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.apply_service_error(error)
            else:
                return _after_action(
                    request, creator, grant, _("已授权「%(org)s」查看全部带货数据。") % {"org": grant.organization.name}
                )
    else:
        initial = {"starts_on": today()}
        org_id = request.GET.get("organization")
        if parse_id(org_id) is not None:
            initial["organization"] = parse_id(org_id)
        for key in ("starts_on", "ends_on"):
            if request.GET.get(key):
                initial[key] = request.GET[key]
        form = AuthorizeForm(initial=initial)
    term = _search_param(request.GET)
    selected = _selected_organization(creator, form)
    context = {
        "form": form,
        "q": term,
        "results": _organization_results(creator, term) if term else [],
        "selected": selected,
        "next": _safe_next(request) or "",
    }
    status = 422 if request.method == "POST" else 200
    return _render_action(request, "grants/authorize.html", context, status=status)


def _organization_results(creator: Creator, term: str) -> list[Organization]:
    """Up to 10 shops/agencies matching ``term``, each with this creator's latest grant to it."""
    organizations = list(Organization.objects.filter(name__icontains=term).order_by("name", "pk")[:10])
    latest = {
        g.organization_id: g
        for g in Grant.objects.for_creator(creator).latest_per_pair().filter(organization__in=organizations)
    }
    for organization in organizations:
        organization.latest_grant = latest.get(organization.pk)
    return organizations


def _selected_organization(creator: Creator, form: AuthorizeForm) -> Organization | None:
    value = form["organization"].value()
    pk = parse_id(value)
    if pk is None:
        return None
    organization = Organization.objects.filter(pk=pk).first()
    if organization is not None:
        organization.latest_grant = (
            Grant.objects.for_creator(creator).latest_per_pair().filter(organization=organization).first()
        )
    return organization


@require_GET
def organization_search(request: HttpRequest) -> HttpResponse:
    """The picker's active search: result items only (the authorize page renders the same list)."""
    creator = _creator_of(request)
    term = _search_param(request.GET)
    context = {"q": term, "results": _organization_results(creator, term) if term else []}
    return render(request, "grants/authorize.html#org-results", context)


def _creator_grant(request: HttpRequest, grant_id: int) -> tuple[Creator, Grant]:
    """The creator's own grant, or 404 — another creator's grant is as absent as a missing one."""
    creator = _creator_of(request)
    grant = get_object_or_404(Grant.objects.for_creator(creator).select_related("organization"), pk=grant_id)
    grant.creator = creator
    return creator, grant


@require_http_methods(["GET", "POST"])
def revoke(request: HttpRequest, grant_id: int) -> HttpResponse:
    creator, grant = _creator_grant(request, grant_id)
    error = None
    if request.method == "POST":
        try:
            grant = services.revoke(grant=grant, actor=request.user)
        except ValidationError as exc:
            error = exc
        else:
            return _after_action(
                request, creator, grant, _("已解除「%(org)s」的全部数据授权。") % {"org": grant.organization.name}
            )
    context = {"grant": grant, "errors": error.messages if error else [], "next": _safe_next(request) or ""}
    return _render_action(request, "grants/revoke.html", context, status=422 if error else 200)


@require_http_methods(["GET", "POST"])
def renew_early(request: HttpRequest, grant_id: int) -> HttpResponse:
    creator, grant = _creator_grant(request, grant_id)
    form = RenewEarlyForm(request.POST if request.method == "POST" else None, grant=grant)
    if request.method == "POST" and form.is_valid():
        try:
            grant = services.renew_early(grant=grant, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            return _after_action(
                request, creator, grant,
                _("已为「%(org)s」提前续约至 %(end)s。") % {"org": grant.organization.name, "end": grant.ends_on},
            )  # fmt: skip
    context = {
        "grant": grant,
        "form": form,
        "tomorrow": today() + datetime.timedelta(days=1),
        "next": _safe_next(request) or "",
        "early": True,
    }
    return _render_action(request, "grants/renewal.html", context, status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def renew(request: HttpRequest, grant_id: int) -> HttpResponse:
    creator, grant = _creator_grant(request, grant_id)
    form = RenewForm(request.POST if request.method == "POST" else None, initial={"starts_on": today()})
    if request.method == "POST" and form.is_valid():
        try:
            grant = services.renew(grant=grant, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            return _after_action(
                request, creator, grant,
                _("已为「%(org)s」续约：%(start)s 至 %(end)s。")
                % {"org": grant.organization.name, "start": grant.starts_on, "end": grant.ends_on},
            )  # fmt: skip
    context = {"grant": grant, "form": form, "next": _safe_next(request) or "", "early": False}
    return _render_action(request, "grants/renewal.html", context, status=422 if form.errors else 200)


@require_GET
def grant_detail(request: HttpRequest, grant_id: int) -> HttpResponse:
    """A grant and its history, for the owning creator and the organization's main account."""
    grant = get_object_or_404(
        access.visible_grants(request.user).select_related("creator", "organization"), pk=grant_id
    )
    events = grant.events.select_related("actor__creator", "actor__membership__organization")
    earlier = (
        Grant.objects.for_creator(grant.creator_id)
        .for_organization(grant.organization_id)
        .exclude(pk=grant.pk)
        .order_by("-created_at", "-pk")
    )
    context = {
        "grant": grant,
        "events": events,
        "earlier": earlier,
        "is_owner": grant.creator.user_id == request.user.pk,
        "viewer_access": access.grant_access(request.user, grant),
    }
    return render(request, "grants/grant_detail.html", context)


# --- organization: 个人中心 ---------------------------------------------------------------------


@require_GET
def org_home(request: HttpRequest) -> HttpResponse:
    who = access.party(request.user)
    if who.membership is None:
        raise PermissionDenied
    context = {"membership": who.membership, "organization": who.organization, "party": who}
    # Every member (main and sub) sees the organization's livestream requests and their status.
    requests = LivestreamAccessRequest.objects.for_organization(who.membership.organization_id).newest_first()
    context["org_requests"] = paginate(
        requests.select_related("livestream__creator", "requested_by"), request, param="requests_page"
    )
    if who.sees_full_data_grants:
        context.update(_org_grant_list(request, who))
    template = "grants/org_home.html"
    if request.htmx and not request.htmx.boosted:
        if request.htmx.target == "org-request-list":
            template += "#org-request-list"
        elif who.sees_full_data_grants:
            template += "#creator-list"
    return render(request, template, context)


def _org_grant_list(request: HttpRequest, who: access.PartyAccess) -> dict:
    """The organization's creators, each with its latest grant and what that grant opens today."""
    status, term = _status_param(request.GET), _search_param(request.GET)
    grants = Grant.objects.for_organization(who.membership.organization_id).latest_per_pair().search_creator(term)
    counts = capped_counts(grants.by_status())
    if status:
        grants = grants.with_status_in([status])
    page = _nearest_expiry_page(grants.select_related("creator"), request)
    for grant in page:
        grant.viewer_access = access.grant_access(request.user, grant)
    return {"page": page, "tabs": _tabs(counts), "status": status, "q": term}


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
    return redirect("livestreams:creator_overview", creator_id=chosen.creator.pk)


# --- creator: 直播间数据管理 (single-livestream requests) -----------------------------------------

REQUEST_TABS = (RequestStatus.PENDING, RequestStatus.APPROVED, None)


def _request_rows(queryset):
    return queryset.select_related("organization", "livestream", "requested_by__membership").prefetch_related(
        Prefetch("events", queryset=LivestreamAccessEvent.objects.select_related("actor__creator"))
    )


@require_GET
def creator_requests(request: HttpRequest) -> HttpResponse:
    creator = _creator_of(request)
    status = request.GET.get("status", RequestStatus.PENDING)
    status = status if status in RequestStatus.values or status == "all" else RequestStatus.PENDING
    requests = LivestreamAccessRequest.objects.for_creator(creator)
    counts = capped_counts(requests.by_status())
    shown = requests if status == "all" else requests.with_status(status)
    tabs = [(value, RequestStatus(value).label, count_label(counts[value])) for value in RequestStatus.values]
    context = {
        "page": paginate(_request_rows(shown.newest_first()), request),
        "pending_request_count": count_label(counts[RequestStatus.PENDING]),  # the badge, from the tabs' count
        "tabs": tabs + [("all", _("全部"), count_label(counts["all"]))],
        "status": status,
    }
    template = "grants/creator_requests.html"
    if request.htmx and not request.htmx.boosted:
        template += "#request-list"
    return render(request, template, context)


def _decide_request(request: HttpRequest, request_id: int, service, message: str) -> HttpResponse:
    creator = _creator_of(request)
    # The request's copy of the creator, and the livestream's own (the services check it again).
    requests = LivestreamAccessRequest.objects.for_creator(creator).filter(livestream__creator=creator)
    access_request = get_object_or_404(requests, pk=request_id)
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
        context = {"access_request": row}  # the badge (pending_request_count) comes from the context processor
        return render(request, "grants/_request_decided.html", context)

    return after_write(request, build, fallback=list_url)


@require_POST
def approve_request(request: HttpRequest, request_id: int) -> HttpResponse:
    return _decide_request(
        request, request_id, services.approve_livestream_request, _("已授权「%(org)s」查看该直播间数据。")
    )


@require_POST
def decline_request(request: HttpRequest, request_id: int) -> HttpResponse:
    return _decide_request(request, request_id, services.decline_livestream_request, _("已拒绝「%(org)s」的申请。"))


@require_POST
def revoke_request(request: HttpRequest, request_id: int) -> HttpResponse:
    return _decide_request(
        request, request_id, services.revoke_livestream_access, _("已解除「%(org)s」的直播间数据授权。")
    )
