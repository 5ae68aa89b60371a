"""Transparency (SPEC §11, §13): 数据访问记录 (the data-access log), 以商家视角预览 (the preview's
entry), and the CSV exports of the grant lists, a grant's history and the log.

Every export streams its rows (``iterator(chunk_size=…)``: a fixed number of queries at any length)
through ``portal.exports`` (UTF-8 with a BOM, formula cells neutralised), and answers to exactly
the rules of the page it exports: the same lookup starting from the user, the same filters.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from portal.converters import parse_id
from portal.exports import csv_response
from portal.pagination import paginate
from portal.responses import page_or_fragment

from . import access
from .forms import AccessLogFilterForm, AuthorizeForm
from .models import AccessPage, Grant, GrantStatus, today
from .views.common import IDLE_TAB, _creator_of, _search_param, _status_param
from .views.grants import _render_action, _safe_next, _selected_organization

CHUNK = 2000


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _actor_name(user) -> str:
    creator = user.creator_or_none
    return creator.name if creator is not None else user.get_username()


# --- 数据访问记录 ----------------------------------------------------------------------------------


def _log_rows(request: HttpRequest):
    """The rows the user may read, filtered by the query string; and the parsed filters."""
    rows = access.access_log_rows(request.user)
    if rows is None:
        raise PermissionDenied
    form = AccessLogFilterForm(request.GET)
    filters = form.filters()
    as_creator = access.party(request.user).creator is not None
    if as_creator:
        rows = rows.search_organization(filters["q"])
        if filters["organization"]:
            rows = rows.for_organization(filters["organization"])
    else:
        rows = rows.search_creator(filters["q"])
    rows = rows.of_page(filters["kind"]).between(filters["start"], filters["end"])
    rows = rows.select_related("viewer__creator", "organization", "creator", "livestream").newest_first()
    return rows, form, filters, as_creator


@require_GET
def access_log(request: HttpRequest) -> HttpResponse:
    """数据访问记录: for a creator, who viewed their data (filter by organization, page, dates); for an
    organization's main account, what its people viewed (filter by creator, page, dates). One query
    for a page of rows, whatever the log's size (``access_log_creator_day`` / ``access_log_org_day``)."""
    rows, form, filters, as_creator = _log_rows(request)
    context = {
        "page": paginate(rows, request),
        "form": form,
        "filters": filters,
        "as_creator": as_creator,
        "pages": AccessPage.choices,
        "retention_days": 180,
        "export_query": request.GET.urlencode(),
    }
    return page_or_fragment(request, "grants/access_log.html", "access-log-list", context)


LOG_COLUMNS = (
    gettext_lazy("日期"), gettext_lazy("达人"), gettext_lazy("商家/机构"), gettext_lazy("查看人"), gettext_lazy("页面"),
    gettext_lazy("直播"), gettext_lazy("查看次数"), gettext_lazy("首次查看"), gettext_lazy("最近查看"),
    gettext_lazy("依据"),
)  # fmt: skip


def authority_label(entry) -> str:
    if entry.grant_id is not None:
        return _("全部数据授权 #%(id)s") % {"id": entry.grant_id}
    if entry.livestream_request_id is not None:
        return _("直播间数据申请 #%(id)s") % {"id": entry.livestream_request_id}
    return ""


@require_GET
def access_log_csv(request: HttpRequest) -> HttpResponse:
    """数据访问记录 as CSV, with the page's filters; one query, streamed."""
    rows, _form, _filters, _as_creator = _log_rows(request)

    def lines():
        for entry in rows.iterator(chunk_size=CHUNK):
            yield [
                entry.day.isoformat(), entry.creator.name, entry.organization.name, _actor_name(entry.viewer),
                entry.get_page_display(), entry.livestream.title if entry.livestream_id else "", entry.views,
                _local(entry.first_at), _local(entry.last_at), authority_label(entry),
            ]  # fmt: skip

    return csv_response(f"access-log-{today():%Y%m%d}.csv", LOG_COLUMNS, lines())


# --- grant lists and history as CSV ---------------------------------------------------------------


def _status_label(grant: Grant, day) -> str:
    return str(GrantStatus(grant.status_on(day)).label)


@require_GET
def creator_grants_csv(request: HttpRequest) -> HttpResponse:
    """数据授权管理's grants as CSV: the current tab (a status, or 闲置) and search. One query."""
    creator = _creator_of(request)
    term = _search_param(request.GET)
    grants = Grant.objects.for_creator(creator).latest_per_pair().search_organization(term)
    status = _status_param(request.GET)
    day = today()
    if request.GET.get("status") == IDLE_TAB:
        grants = grants.idle(day)
    elif status:
        grants = grants.with_status_in([status], day)
    grants = grants.with_idle(day).select_related("organization").nearest_expiry_first(day)
    header = (
        _("商家/机构"), _("编码"), _("类型"), _("开始日期"), _("截止日期"), _("状态"), _("剩余天数"), _("闲置"),
        _("创建时间"),
    )  # fmt: skip

    def lines():
        for grant in grants.iterator(chunk_size=CHUNK):
            organization = grant.organization
            yield [
                organization.name, organization.code, organization.get_kind_display(), grant.starts_on.isoformat(),
                grant.ends_on.isoformat(), _status_label(grant, day), grant.days_left_on(day),
                _("是") if grant.is_idle else "", _local(grant.created_at),
            ]  # fmt: skip

    return csv_response(f"grants-{day:%Y%m%d}.csv", header, lines())


@require_GET
def org_grants_csv(request: HttpRequest) -> HttpResponse:
    """个人中心's grants (the organization's creators) as CSV, for its main account: the current tab
    and search. One query."""
    who = access.party(request.user)
    if not who.sees_full_data_grants:
        raise PermissionDenied
    term = _search_param(request.GET)
    grants = Grant.objects.for_organization(who.membership.organization_id).latest_per_pair().search_creator(term)
    status = _status_param(request.GET)
    day = today()
    if status:
        grants = grants.with_status_in([status], day)
    grants = grants.select_related("creator").nearest_expiry_first(day)
    header = (_("达人"), _("抖音号"), _("开始日期"), _("截止日期"), _("状态"), _("剩余天数"))

    def lines():
        for grant in grants.iterator(chunk_size=CHUNK):
            yield [
                grant.creator.name, grant.creator.douyin_id, grant.starts_on.isoformat(), grant.ends_on.isoformat(),
                _status_label(grant, day), grant.days_left_on(day),
            ]  # fmt: skip

    return csv_response(f"organization-grants-{day:%Y%m%d}.csv", header, lines())


@require_GET
def grant_history_csv(request: HttpRequest, grant_id: int) -> HttpResponse:
    """A grant's history as CSV, for whoever may see the grant's page (its creator, the organization's
    main account). Two queries: the grant, its events."""
    grant = get_object_or_404(
        access.visible_grants(request.user).select_related("creator", "organization"), pk=grant_id
    )
    events = grant.events.select_related("actor__creator").order_by("at", "pk")
    header = (
        _("达人"), _("商家/机构"), _("时间"), _("操作"), _("操作人"), _("原开始日期"), _("原截止日期"),
        _("新开始日期"), _("新截止日期"),
    )  # fmt: skip

    def day(value) -> str:
        return value.isoformat() if value else ""

    def lines():
        for event in events.iterator(chunk_size=CHUNK):
            yield [
                grant.creator.name, grant.organization.name, _local(event.at), event.get_operation_display(),
                _actor_name(event.actor), day(event.starts_before), day(event.ends_before), day(event.starts_after),
                day(event.ends_after),
            ]  # fmt: skip

    return csv_response(f"grant-{grant.pk}-history.csv", header, lines())


# --- 以商家视角预览: the entry -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def preview(request: HttpRequest) -> HttpResponse:
    """Open the preview (``livestreams:creator_preview``) of one of the creator's grants (GET
    ``?grant=<id>``), or of the authorize dialog's organization and period before it is submitted
    (its POST, sent to here by the dialog's 以商家视角预览 button). Nothing is saved."""
    creator = _creator_of(request)
    if request.method == "GET":
        grant = get_object_or_404(Grant.objects.for_creator(creator), pk=parse_id(request.GET.get("grant")) or 0)
        token = access.preview_token(creator=creator, grant=grant)
    else:
        form = AuthorizeForm(request.POST)
        if form.is_valid() and form.cleaned_data["scope"] == []:
            form.add_error("scope", _("请至少选择一项授权范围。"))  # as the service's empty_scope says
        if not form.is_valid():
            context = {"form": form, "q": "", "results": [], "selected": _selected_organization(creator, form),
                       "next": _safe_next(request) or ""}  # fmt: skip
            return _render_action(request, "grants/authorize.html", context, status=422)
        data = form.cleaned_data
        token = access.preview_token(
            creator=creator, organization=data["organization"], starts_on=data["starts_on"], ends_on=data["ends_on"],
            scope=data["scope"],
        )  # fmt: skip
    url = reverse("livestreams:creator_preview", kwargs={"creator_id": creator.pk, "preview": token})
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
