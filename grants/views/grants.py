"""The creator's 数据授权管理: the grant list, authorize, revoke, renewals, the grant page with its
scope and delegations (SPEC §4, §12)."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh, trigger_client_event

from portal.converters import parse_id
from portal.models import Creator, Organization
from portal.pagination import paginate
from portal.responses import after_write, current_url, page_or_fragment

from .. import access, services
from ..context_processors import shell_labels
from ..forms import (
    AuthorizeForm,
    DelegateForm,
    DelegationAllowedForm,
    RenewEarlyForm,
    RenewForm,
    ScopeForm,
)
from ..models import (
    PART_LABELS,
    PARTS,
    Delegation,
    DelegationEvent,
    Grant,
    GrantRequest,
    GrantRequestEvent,
    today,
)
from .common import (
    IDLE_TAB,
    PENDING_TAB,
    REQUESTS_TAB,
    _creator_of,
    _creator_tabs,
    _nearest_expiry_page,
    _search_param,
    _shell_counts,
    _status_param,
)

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
        {
            **grants.by_status(),
            # newest first, as their indexes are: the counts walk them (capped_counts)
            PENDING_TAB: requests.pending().newest_first(),
            REQUESTS_TAB: requests.newest_first(),
            IDLE_TAB: grants.idle(),
        },
    )
    context = {
        "creator": creator,
        "tabs": _creator_tabs(counts),
        "status": status,
        "q": term,
        "highlight": highlight,
        "query_params": querydict,
        **shell_labels(counts),
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
    return page_or_fragment(request, "grants/creator_grants.html", "grant-list", context)


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


def _user_label(user) -> str:
    """A sub-account as the delegation form lists it: its name, else its username."""
    return user.get_full_name() or user.username


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
            name = _user_label(delegation.sub_account)
            return _grant_page_done(request, grant, _("已授权子账号「%(user)s」。") % {"user": name})
    context = _grant_detail_context(request, grant, delegate_form=form)
    return render(request, "grants/grant_detail.html", context, status=422)


@require_POST
def end_delegation(request: HttpRequest, delegation_id: int) -> HttpResponse:
    """结束子账号授权, from the grant page (the organization's main account)."""
    who = access.party(request.user)
    if not who.may_delegate:
        raise PermissionDenied
    delegation = get_object_or_404(
        Delegation.objects.for_organization(who.membership.organization_id).select_related(
            "grant__creator", "grant__organization", "sub_account"
        ),
        pk=delegation_id,
    )
    try:
        services.end_delegation(delegation=delegation, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("grants:grant_detail", grant_id=delegation.grant_id)
    name = _user_label(delegation.sub_account)
    return _grant_page_done(request, delegation.grant, _("已结束子账号「%(user)s」的授权。") % {"user": name})
