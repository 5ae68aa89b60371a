"""Authorization management pages of both perspectives (function views, HTMX partials by the view).

Each view: parse → a lookup that starts from the user → one service call → full page, partial or
redirect. Every HTMX interaction is also a plain link or form post (post/redirect/get).
"""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

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

from notifications.context_processors import unread_label
from notifications.models import Message
from portal.converters import parse_id
from portal.models import Creator, Organization
from portal.pagination import paginate
from portal.responses import after_write, current_url

from . import access, bulk, services
from . import perspective as perspectives
from .forms import (
    ApproveRequestForm,
    AuthorizeForm,
    BulkForm,
    DeclineForm,
    DelegateForm,
    DelegationAllowedForm,
    RenewEarlyForm,
    RenewForm,
    RequestExtensionForm,
    RequestGrantForm,
    ScopeForm,
)
from .models import (
    PART_LABELS,
    PARTS,
    Delegation,
    DelegationEvent,
    Grant,
    GrantRequest,
    GrantRequestEvent,
    GrantStatus,
    LivestreamAccessEvent,
    LivestreamAccessRequest,
    RequestStatus,
    today,
)
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


# The creator's 数据授权管理 shows, besides the grants by status, two tabs of full-data and extension
# requests: the pending ones (待处理, to decide) and all of them (申请记录, with their history).
PENDING_TAB, REQUESTS_TAB = "pending", "requests"
# 闲置 (SPEC §11): the active grants nobody viewed anything under in the last 14 days.
IDLE_TAB = "idle"


def _shell_counts(request: HttpRequest, creator: Creator | None, querysets: dict) -> dict[str, int]:
    """Capped counts of ``querysets`` (a list's tabs) in one query, together with what the page's
    shell shows: the creator's two pending badges and the bell. The view passes them to the
    template, so neither the badges nor the bell query again."""
    shell = {"_unread": Message.objects.unread_for(request.user)}
    if creator is not None:
        shell["_badge_requests"] = LivestreamAccessRequest.objects.for_creator(creator).pending()
        shell["_badge_grant_requests"] = GrantRequest.objects.for_creator(creator).pending()
    return capped_counts({**querysets, **shell})


def _shell_context(counts: dict[str, int]) -> dict:
    context = {"unread_count": unread_label(counts["_unread"])}
    if "_badge_requests" in counts:
        context["pending_request_count"] = count_label(counts["_badge_requests"])
        context["pending_grant_request_count"] = count_label(counts["_badge_grant_requests"])
    return context


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


# --- creator: 数据授权管理 -----------------------------------------------------------------------


def _grant_request_rows(queryset):
    return queryset.select_related("organization", "grant", "requested_by").prefetch_related(
        Prefetch("events", queryset=GrantRequestEvent.objects.select_related("actor__creator"))
    )


def _creator_list_context(request: HttpRequest, creator: Creator, querydict: QueryDict, highlight=None) -> dict:
    """数据授权管理: the grants by status, or the full-data and extension requests (待处理 / 申请记录).
    Queries: the tabs' counts with the badges and the bell (one), a page of rows (one; a page of
    requests also prefetches their history: two)."""
    term = _search_param(querydict)
    tab = querydict.get("status")
    status = _status_param(querydict)
    grants = Grant.objects.for_creator(creator).latest_per_pair().search_organization(term)
    requests = GrantRequest.objects.for_creator(creator).search_organization(term)
    counts = _shell_counts(
        request,
        creator,
        {**grants.by_status(), PENDING_TAB: requests.pending(), REQUESTS_TAB: requests, IDLE_TAB: grants.idle()},
    )
    context = {
        "creator": creator,
        "tabs": _creator_tabs(counts),
        "status": status,
        "q": term,
        "highlight": highlight,
        "query_params": querydict,
        **_shell_context(counts),
    }
    if tab in (PENDING_TAB, REQUESTS_TAB):
        shown = requests.pending() if tab == PENDING_TAB else requests
        context.update(status=tab, requests_page=paginate(_grant_request_rows(shown.newest_first()), request))
        return context
    if tab == IDLE_TAB:
        context["status"] = IDLE_TAB
        grants = grants.idle()
    elif status:
        grants = grants.with_status_in([status])
    context["page"] = _nearest_expiry_page(grants.with_idle().select_related("organization"), request)
    return context


@require_GET
def creator_grants(request: HttpRequest) -> HttpResponse:
    creator = _creator_of(request)
    context = _creator_list_context(request, creator, request.GET)
    template = "grants/creator_grants.html"
    if request.htmx and not request.htmx.boosted:
        template += "#grant-list"
    return render(request, template, context)


def _after_action(request: HttpRequest, creator: Creator, grant: Grant | None, message: str) -> HttpResponse:
    """Success in 数据授权管理: HTMX refreshes the list in place (or the page); a plain post
    redirects (PRG)."""

    def refresh(query: QueryDict) -> HttpResponse:
        highlight = grant.pk if grant is not None else None
        context = _creator_list_context(request, creator, query, highlight=highlight)
        return render(request, "grants/_action_done.html", context)

    return _done(request, message, list_url=reverse("grants:creator_grants"), refresh=refresh)


def _done(request: HttpRequest, message: str, *, list_url: str, refresh, close: bool = True) -> HttpResponse:
    """After an action: a plain post redirects back (``next``) or to the list (post/redirect/get);
    HTMX refreshes the list the action started from (``refresh(query)`` renders it with its
    query) or, from any other page, reloads that page. ``close``: the action ran in the dialog.
    The change is saved: whatever the request's headers, the answer reports it (``after_write``)."""
    messages.success(request, message)

    def build() -> HttpResponse:
        if not request.htmx:
            return redirect(_safe_next(request) or list_url)
        current = current_url(request)
        if current is None or current.path != urlsplit(list_url).path:
            return HttpResponseClientRefresh()
        response = refresh(QueryDict(current.query))
        return trigger_client_event(response, "close-dialog") if close else response

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
        initial = {"starts_on": today(), "scope": list(PARTS)}
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


def _grant_detail_context(request: HttpRequest, grant: Grant, **forms) -> dict:
    """A grant, its history, its delegations (SPEC §12) with theirs, and the forms of the page: the
    creator's scope and delegation switches, the main account's delegation form. Queries: the
    history, earlier grants, the delegations with their history (two), the sub-accounts (one, for
    the main account's form)."""
    events = grant.events.select_related("actor__creator", "actor__membership__organization")
    earlier = (
        Grant.objects.for_creator(grant.creator_id)
        .for_organization(grant.organization_id)
        .exclude(pk=grant.pk)
        .order_by("-created_at", "-pk")
    )
    is_owner = grant.creator.user_id == request.user.pk
    delegations = (
        Delegation.objects.for_grant(grant)
        .select_related("sub_account__membership")
        .prefetch_related(Prefetch("events", queryset=DelegationEvent.objects.select_related("actor")))
        .newest_first()
    )
    day = today()
    delegations = list(delegations)
    for delegation in delegations:
        delegation.grant = grant
        delegation.state_now = delegation.state_on(day)
    context = {
        "grant": grant,
        "events": events,
        "earlier": earlier,
        "is_owner": is_owner,
        "viewer_access": access.grant_access(request.user, grant),
        "delegations": delegations,
        "scope_parts": [(part, label, part in grant.parts) for part, label in PART_LABELS.items()],
    }
    if is_owner:
        context["scope_form"] = forms.get("scope_form") or ScopeForm(initial={"scope": sorted(grant.parts)})
    elif access.party(request.user).may_delegate:
        context["delegate_form"] = forms.get("delegate_form") or DelegateForm(
            grant=grant, initial={"ends_on": grant.ends_on, "scope": sorted(grant.parts)}
        )
        context["may_delegate"] = grant.can_delegate(day)
    return context


@require_GET
def grant_detail(request: HttpRequest, grant_id: int) -> HttpResponse:
    """A grant and its history, for the owning creator and the organization's main account."""
    grant = get_object_or_404(
        access.visible_grants(request.user).select_related("creator", "organization"), pk=grant_id
    )
    return render(request, "grants/grant_detail.html", _grant_detail_context(request, grant))


def _grant_page_done(request: HttpRequest, grant: Grant, message: str) -> HttpResponse:
    """After an action on the grant page: back to it (post/redirect/get; HTMX reloads it)."""
    url = reverse("grants:grant_detail", args=[grant.pk])
    return _done(request, message, list_url=url, refresh=lambda query: HttpResponseClientRefresh())


@require_POST
def change_scope(request: HttpRequest, grant_id: int) -> HttpResponse:
    """修改授权范围, from the grant page (the creator's)."""
    _creator, grant = _creator_grant(request, grant_id)
    form = ScopeForm(request.POST)
    if form.is_valid():
        try:
            grant = services.change_scope(grant=grant, actor=request.user, scope=form.cleaned_data["scope"] or [])
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            labels = "、".join(str(label) for label in grant.scope_labels)
            return _grant_page_done(request, grant, _("授权范围已修改为：%(scope)s。") % {"scope": labels})
    context = _grant_detail_context(request, grant, scope_form=form)
    return render(request, "grants/grant_detail.html", context, status=422)


@require_POST
def set_delegation_allowed(request: HttpRequest, grant_id: int) -> HttpResponse:
    """允许/禁止子账号授权, from the grant page (the creator's)."""
    _creator, grant = _creator_grant(request, grant_id)
    form = DelegationAllowedForm(request.POST)
    if not form.is_valid():
        return render(request, "grants/grant_detail.html", _grant_detail_context(request, grant), status=422)
    grant = services.set_delegation_allowed(grant=grant, allowed=form.cleaned_data["allowed"], actor=request.user)
    message = _("已允许子账号授权。") if grant.delegation_allowed else _("已禁止子账号授权，现有的子账号授权均已结束。")
    return _grant_page_done(request, grant, message)


def _org_grant(request: HttpRequest, grant_id: int) -> Grant:
    """The organization's grant, for its main account (403 for anyone else, as the other pages of
    the main account); another organization's grant is as absent as a missing one (404)."""
    who = access.party(request.user)
    if not who.may_delegate:
        raise PermissionDenied
    return get_object_or_404(
        Grant.objects.for_organization(who.membership.organization_id).select_related("creator", "organization"),
        pk=grant_id,
    )


@require_POST
def delegate(request: HttpRequest, grant_id: int) -> HttpResponse:
    """子账号授权, from the grant page (the organization's main account)."""
    grant = _org_grant(request, grant_id)
    form = DelegateForm(request.POST, grant=grant)
    if form.is_valid():
        data = form.cleaned_data
        try:
            delegation = services.delegate(
                grant=grant, sub_account=data["sub_account"], ends_on=data["ends_on"], actor=request.user,
                scope=data["scope"],
            )  # fmt: skip
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            who = delegation.sub_account.get_full_name() or delegation.sub_account.username
            return _grant_page_done(request, grant, _("已授权子账号「%(user)s」。") % {"user": who})
    context = _grant_detail_context(request, grant, delegate_form=form)
    return render(request, "grants/grant_detail.html", context, status=422)


@require_POST
def end_delegation(request: HttpRequest, delegation_id: int) -> HttpResponse:
    """结束子账号授权, from the grant page (the organization's main account)."""
    who = access.party(request.user)
    if not who.may_delegate:
        raise PermissionDenied
    delegation = get_object_or_404(
        Delegation.objects.filter(grant__organization_id=who.membership.organization_id).select_related(
            "grant__creator", "grant__organization", "sub_account"
        ),
        pk=delegation_id,
    )
    try:
        services.end_delegation(delegation=delegation, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("grants:grant_detail", grant_id=delegation.grant_id)
    who_name = delegation.sub_account.get_full_name() or delegation.sub_account.username
    return _grant_page_done(request, delegation.grant, _("已结束子账号「%(user)s」的授权。") % {"user": who_name})


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
    context.update(_shell_context(counts))
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
    counts = _shell_counts(request, creator, requests.by_status())
    shown = requests if status == "all" else requests.with_status(status)
    tabs = [(value, RequestStatus(value).label, count_label(counts[value])) for value in REQUEST_TAB_ORDER]
    return {
        "page": paginate(_request_rows(shown.newest_first()), request),
        "tabs": tabs + [("all", _("全部"), count_label(counts["all"]))],
        "status": status,
        "query_params": querydict,
        **_shell_context(counts),
    }


@require_GET
def creator_requests(request: HttpRequest) -> HttpResponse:
    creator = _creator_of(request)
    context = _creator_requests_context(request, creator, request.GET)
    template = "grants/creator_requests.html"
    if request.htmx and not request.htmx.boosted:
        template += "#request-list"
    return render(request, template, context)


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
