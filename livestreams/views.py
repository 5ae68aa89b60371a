"""Livestream pages: an organization's cooperated livestreams, the detail page with its locked or
open modules, the unlock request, and the three modules (big screen, traffic, audience).

Access is decided by ``grants.access`` only: ``livestream_access`` says whether the user may see
the detail page (the creator, cooperating members, anyone with module access) and the modules.

A module of an ended livestream shows data that no longer changes: its rendered content (the
module's own partial, ``#module``: the livestream's figures and charts, nothing of the viewer) is
kept in Django's cache under a key made of the livestream's row (its ``updated_at`` included, which
every import bumps), its creator's name and avatar, the module and the language. The access check
runs on every request before the cache is read, and the page around it (navigation, perspective
switcher and banner, messages, CSRF header) is rendered for each request.
"""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HTMX_STOP_POLLING, trigger_client_event

from grants import access, services
from grants.models import LivestreamAccessRequest
from portal import replicas, shell
from portal.pagination import paginate
from portal.responses import after_write, page_or_fragment

from . import speedups
from .charts import Series
from .models import Cooperation, Livestream, MinutePoint, ProductSale

MODULE_CARDS = (
    (
        "big_screen",
        gettext_lazy("直播大屏"),
        gettext_lazy("实时在线、累计观看、成交金额、订单与件数，分钟级在线人数与成交曲线，商品排行。"),
        "livestreams:big_screen",
    ),
    (
        "traffic",
        gettext_lazy("流量转化"),
        gettext_lazy("曝光 → 进入直播间 → 商品曝光 → 商品点击 → 成交的转化漏斗，以及流量来源。"),
        "livestreams:traffic",
    ),
    (
        "audience",
        gettext_lazy("用户画像"),
        gettext_lazy("性别、年龄段、省份与城市分布，新老观众占比。"),
        "livestreams:audience",
    ),
)


# --- an organization's livestreams ------------------------------------------------------------


@replicas.reads_replica
@require_GET
def org_livestreams(request: HttpRequest) -> HttpResponse:
    """The livestreams the member's organization cooperated in, newest first, with its own sales."""
    membership = request.user.membership_or_none
    if membership is None:
        creator = request.user.creator_or_none
        if creator is not None:
            return redirect("livestreams:creator_livestreams", creator_id=creator.pk)
        raise Http404
    organization = membership.organization
    # A deep page walks the skipped rows by their livestream (one cooperation per livestream and
    # organization), which the list's index holds: index-only, where the id would read the table.
    cooperations = Cooperation.objects.newest_first().select_related("livestream__creator")
    page = paginate(
        cooperations.for_organization(organization),
        request,
        key="livestream_id",
        by_key=cooperations.of_organization_by_livestream(organization),
    )
    ids = [cooperation.livestream_id for cooperation in page]
    requests = {
        r.livestream_id: r for r in LivestreamAccessRequest.objects.for_livestreams_of(organization, ids).open()
    }
    # A main account whose organization holds an active full-data grant sees every module too.
    granted = access.creators_viewable(request.user, {c.livestream.creator_id for c in page}, "modules")
    for cooperation in page:
        cooperation.open_request = requests.get(cooperation.livestream_id)
        cooperation.full_grant = cooperation.livestream.creator_id in granted
    context = {"page": page, "organization": organization}
    return page_or_fragment(request, "livestreams/org_livestreams.html", "livestream-list", context)


# --- one livestream ------------------------------------------------------------------------------


def _livestream_for(request: HttpRequest, livestream_id: int, *, modules: bool = False, page: str | None = None):
    """The livestream and ``grants.access``'s answer for it; 404 for a stranger (same as absent).

    ``modules=True``: a cooperating member without module access gets 403 (they know it exists);
    anyone else without it 404.
    ``page``: the data page about to be served (``grants.models.AccessPage``), recorded in the
    data-access log by the decision itself when its answer rests on an authority (None: not a data
    page). A page refused below had none: nothing was recorded.
    """
    with replicas.on_primary():  # the decision rests on the livestream's creator: as the primary has it
        livestream, answer = access.livestream_and_access(
            request.user, livestream_id, speedups.LIVESTREAM_WITH_CREATOR, page=page
        )
    if livestream is None:
        raise Http404
    if not answer.detail:
        raise Http404
    if modules and not answer.modules:
        # A cooperating member knows the livestream (403); anyone else who sees only its detail
        # (a grant or delegation whose scope lacks the modules) is refused like a stranger.
        if answer.cooperating:
            raise PermissionDenied
        raise Http404
    return livestream, answer


def _basic_products(request: HttpRequest, livestream: Livestream, answer):
    """The basic section's products: only the organization's own where the answer says so (SPEC §5:
    a cooperating organization), else all of them."""
    products = ProductSale.objects.filter(livestream=livestream).select_related("organization").by_gmv()
    if answer.own_products_only:
        return products.for_organization(request.user.membership_or_none.organization_id)
    return products


def _request_state(request: HttpRequest, livestream: Livestream):
    """The organization's open (pending or approved) request for the livestream, if any."""
    membership = request.user.membership_or_none
    return LivestreamAccessRequest.objects.for_livestreams_of(membership.organization, [livestream.pk]).open().first()


def _detail_context(request: HttpRequest, livestream: Livestream, answer) -> dict:
    return {
        "livestream": livestream,
        "access": answer,
        "may_view_modules": answer.modules,
        "open_request": _request_state(request, livestream) if answer.may_request and not answer.modules else None,
        "can_request": answer.may_request and not answer.modules,
        "module_cards": MODULE_CARDS,
    }


@replicas.reads_replica
@require_GET
def detail(request: HttpRequest, livestream_id: int) -> HttpResponse:
    livestream, answer = _livestream_for(request, livestream_id, page="livestream")
    products = list(_basic_products(request, livestream, answer))
    context = {
        **_detail_context(request, livestream, answer),
        "products": products,
        "own_only": answer.own_products_only,
        "own_totals": _sum_products(products),
    }
    return render(request, "livestreams/detail.html", context)


def _sum_products(products) -> dict:
    return {
        "gmv": sum((p.gmv for p in products), start=0),
        "orders": sum(p.orders for p in products),
        "units": sum(p.units for p in products),
    }


@require_http_methods(["GET", "POST"])
def unlock(request: HttpRequest, livestream_id: int) -> HttpResponse:
    """解锁更多数据: a confirm dialog (or page); only the POST of 确认 creates the request. The service
    answers every case the access answer lets through (a pending request returned, an approved one
    refused with ``already_approved``)."""
    livestream, answer = _livestream_for(request, livestream_id)
    if not answer.may_request:
        raise PermissionDenied
    error = None
    if request.method == "POST":
        try:
            services.request_livestream_access(livestream=livestream, actor=request.user)
        except ValidationError as exc:
            error = exc
        else:
            messages.success(request, _("已提交申请，等待达人审批。"))
            detail_url = reverse("livestreams:detail", kwargs={"livestream_id": livestream.pk})

            def build() -> HttpResponse:
                if not request.htmx:
                    return redirect(detail_url)
                context = _detail_context(request, livestream, answer)
                return trigger_client_event(render(request, "livestreams/_unlock_done.html", context), "close-dialog")

            return after_write(request, build, fallback=detail_url)
    context = {"livestream": livestream, "errors": error.messages if error else []}
    if request.htmx:
        return render(request, "livestreams/unlock.html#dialog-body", context)
    return render(request, "livestreams/unlock.html", context, status=422 if error else 200)


# --- the three modules ---------------------------------------------------------------------------


def _minutes(livestream: Livestream):
    """The minute series up to now (a live stream's later points, if any were fed early, wait).

    Bounded by the livestream's own time (no point lies outside ``[started_at, ended_at]``: the import
    refuses one), which lets PostgreSQL read only the livestream's month(s) of the partitioned
    minute table (``livestreams/partitions.py``).
    """
    now = timezone.now()
    until = min(now, livestream.ended_at) if livestream.ended_at is not None else now
    return list(
        MinutePoint.objects.filter(livestream=livestream, at__gte=livestream.started_at, at__lte=until)
        .order_by("at")
        .values("at", "online", "entries", "gmv", "orders")
    )


def _big_screen_context(livestream: Livestream) -> dict:
    minutes = _minutes(livestream)
    current = minutes[-1]["online"] if minutes and livestream.is_live else 0
    return {
        "livestream": livestream,
        "minutes": minutes,
        "current_online": current,
        "peak_online": max([livestream.peak_online] + [m["online"] for m in minutes]),
        "ranking": list(ProductSale.objects.filter(livestream=livestream).select_related("organization").by_gmv()[:10]),
        "now": timezone.now(),
        "online_series": [Series(key="online", label=_("在线人数"), area=True, peak=True, color=0)],
        "gmv_series": [Series(key="gmv", label=_("成交金额"), fmt="money", area=True, peak=True, color=3, agg="avg")],
    }


# Bump when a module template changes in a way its cached fragments must not outlive (with a
# shared cache; a per-process one starts empty after a deploy). See also CACHES' KEY_PREFIX.
MODULE_CACHE_VERSION = 1
MODULE_CACHE_SECONDS = 24 * 60 * 60
_ROW_FIELDS = tuple(field.attname for field in Livestream._meta.concrete_fields)


def module_cache_key(livestream: Livestream, module: str) -> str | None:
    """The cache key of ``module``'s rendered content for ``livestream``; None while its data may
    still change (live, or an end time still ahead), which is never cached.

    Made of every column of the livestream's row (``updated_at``, bumped by every import, stands
    for its minutes, products, funnel, sources and audience), its creator's name and avatar (the
    head shows them), the module and the language: the content of one livestream, never of a user.
    """
    if not _ended(livestream):
        return None
    creator = livestream.creator
    parts = [MODULE_CACHE_VERSION, module, get_language(), creator.name, creator.avatar.name or ""]
    parts += [getattr(livestream, name) for name in _ROW_FIELDS]
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"livestream-module:{livestream.pk}:{module}:{digest}"


def _module_page(request: HttpRequest, livestream: Livestream, module: str, template: str, load) -> HttpResponse:
    """The module page: its content from the cache when the livestream has ended (else rendered by
    ``template``'s ``#module`` partial from ``load()``'s context), inside a shell rendered now."""
    if not _ended(livestream):
        return render(request, template, _module_context(request, livestream, module, template, load, None)[0])
    # The page around the content (title, navigation, switcher, banner) is the same for this viewer
    # until one of its inputs changes: the shell keeps the whole page, under the module and the
    # livestream's row with its creator (what the content's key is made of, the language being in
    # the layout's), and fills in the CSRF token per request.
    return shell.render_page(
        request,
        template,
        (MODULE_CACHE_VERSION, module, shell.fingerprint(livestream)),
        lambda: _module_context(request, livestream, module, template, load, module_cache_key(livestream, module)),
    )


def _ended(livestream: Livestream) -> bool:
    return livestream.ended_at is not None and livestream.ended_at <= timezone.now()


def _module_context(request, livestream, module: str, template: str, load, key) -> tuple[dict, bool]:
    """The module page's context, and whether what it shows may be kept: the content from the cache
    under ``key`` (None: never cached), else rendered and, under a key, cached."""
    content = cache.get(key) if key is not None else None
    keep = content is not None
    if content is None:
        content = render_to_string(f"{template}#module", load(), request)
        # Read from a replica that has not caught up with the row the key was made of, the content
        # would outlive its data: it is shown, not kept.
        keep = key is not None and replicas.agrees(livestream)
        if keep:
            cache.set(key, content, MODULE_CACHE_SECONDS)
    return {"livestream": livestream, "module_html": mark_safe(content)}, keep  # noqa: S308 - our rendering


@replicas.reads_replica
@require_GET
def big_screen(request: HttpRequest, livestream_id: int) -> HttpResponse:
    """直播大屏: figures, curves and product ranking; polls every 5 s while live (HTTP 286 stops it).

    An ended livestream's screen comes from the cache (see ``module_cache_key``); a live one is
    rendered on every request and poll.
    """
    # Each refresh (a poll every 5 s) counts one more view of the day's row; it adds no row.
    livestream, _answer = _livestream_for(request, livestream_id, modules=True, page="big_screen")
    if request.htmx and request.htmx.target == "big-screen-live":
        fresh = Livestream.objects.select_related("creator").get(pk=livestream.pk)
        response = render(request, "livestreams/big_screen.html#big-screen-live", _big_screen_context(fresh))
        if not fresh.is_live:
            response.status_code = HTMX_STOP_POLLING
        return response
    return _module_page(
        request, livestream, "big_screen", "livestreams/big_screen.html", lambda: _big_screen_context(livestream)
    )


@replicas.reads_replica
@require_GET
def traffic(request: HttpRequest, livestream_id: int) -> HttpResponse:
    """流量转化: the funnel with its conversion rates, and the traffic sources."""
    livestream, _answer = _livestream_for(request, livestream_id, modules=True, page="traffic")

    def load():
        return {"livestream": Livestream.objects.select_related("creator", "funnel", "sources").get(pk=livestream.pk)}

    return _module_page(request, livestream, "traffic", "livestreams/traffic.html", load)


@replicas.reads_replica
@require_GET
def audience(request: HttpRequest, livestream_id: int) -> HttpResponse:
    """用户画像: gender, age bands, top provinces and cities, new vs returning viewers."""
    livestream, _answer = _livestream_for(request, livestream_id, modules=True, page="audience")

    def load():
        return {"livestream": Livestream.objects.select_related("creator", "audience").get(pk=livestream.pk)}

    return _module_page(request, livestream, "audience", "livestreams/audience.html", load)
