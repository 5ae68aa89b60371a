"""A creator's full sales data (全部带货数据): overview, livestream list, CSV export.

The pages a creator sees of themself, and exactly the pages an authorized main account sees after
switching perspective (read-only, with the banner). ``creator_data_view`` asks ``grants.access``.
Every figure is aggregated by the database; each page has a fixed number of queries.
"""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from grants.perspective import creator_data_view
from portal.exports import csv_response
from portal.pagination import paginate
from portal.replicas import reads_replica
from portal.responses import page_or_fragment

from . import speedups
from .models import SORT_KEYS, Livestream
from .ranges import PRESETS, parse_range
from .views import MODULE_CARDS

SORT_LABELS = {
    "started_at": gettext_lazy("开播时间"),
    "gmv": gettext_lazy("成交金额"),
    "orders": gettext_lazy("订单"),
    "peak_online": gettext_lazy("最高在线"),
}
KPIS = (
    ("gmv", gettext_lazy("成交金额"), "money"),
    ("orders", gettext_lazy("成交订单"), "compact"),
    ("units", gettext_lazy("成交件数"), "compact"),
    ("count", gettext_lazy("直播场次"), "compact"),
    ("avg_viewers", gettext_lazy("场均观看人数"), "compact"),
)


def _delta(current, previous) -> float | None:
    """The change against the previous period as a fraction; None when that period had nothing."""
    if not previous:
        return None
    return float((Decimal(current) - Decimal(previous)) / Decimal(previous))


def _range_context(request: HttpRequest, answer) -> dict:
    date_range, form = parse_range(request.GET, timezone.localdate())
    return {
        "creator": answer.creator,
        "access": answer,
        "range": date_range,
        "range_form": form,
        "presets": PRESETS,
    }


@reads_replica
@require_GET
@creator_data_view("overview", "products", page="overview")
def overview(request: HttpRequest, answer) -> HttpResponse:
    """KPIs with the change against the previous period and a daily trend (part "overview"); top
    products and shops (part "products"): each section only if the answer opens its part."""
    context = _range_context(request, answer)
    date_range, creator = context["range"], answer.creator
    if answer.may_view("overview"):
        context.update(_overview_figures(creator, date_range))
    if answer.may_view("products"):
        context.update(
            top_products=speedups.creator_top_products(creator, date_range.start, date_range.end),
            top_shops=speedups.creator_top_shops(creator, date_range.start, date_range.end),
        )
    return page_or_fragment(request, "livestreams/creator_overview.html", "overview-body", context)


def _overview_figures(creator, date_range) -> dict:
    current, previous = speedups.creator_totals_with_previous(creator, date_range.start, date_range.end)
    return dict(
        kpis=[
            {
                "key": key,
                "label": label,
                "fmt": fmt,
                "value": current[key],
                "previous": previous[key],
                "delta": _delta(current[key], previous[key]),
            }
            for key, label, fmt in KPIS
        ],  # fmt: skip
        daily=speedups.creator_daily(creator, date_range.start, date_range.end),
    )


@reads_replica
@require_GET
@creator_data_view("livestreams", page="livestreams")
def livestream_list(request: HttpRequest, answer) -> HttpResponse:
    """Every livestream in the range, sortable, paginated, each linking to its detail and, when the
    answer opens them, its modules."""
    context = _range_context(request, answer)
    date_range = context["range"]
    sort = request.GET.get("sort") if request.GET.get("sort") in SORT_KEYS else "started_at"
    livestreams = Livestream.objects.for_creator(answer.creator).started_between(date_range.start, date_range.end)
    context.update(
        module_cards=MODULE_CARDS,
        page=paginate(livestreams.sort_by(sort), request),
        sort=sort,
        sorts=[(key, SORT_LABELS[key]) for key in SORT_KEYS],
    )
    return page_or_fragment(request, "livestreams/creator_livestreams.html", "livestream-table", context)


CSV_COLUMNS = (
    ("started_at", gettext_lazy("开播时间")),
    ("ended_at", gettext_lazy("下播时间")),
    ("title", gettext_lazy("标题")),
    ("gmv", gettext_lazy("成交金额")),
    ("orders", gettext_lazy("成交订单")),
    ("units", gettext_lazy("成交件数")),
    ("peak_online", gettext_lazy("最高在线")),
    ("viewers", gettext_lazy("累计观看")),
    ("avg_watch_seconds", gettext_lazy("平均观看时长（秒）")),
    ("new_followers", gettext_lazy("新增粉丝")),
    ("external_id", gettext_lazy("外部编号")),
)


@reads_replica
@require_GET
@creator_data_view("livestreams", page="livestreams_csv")
def export_csv(request: HttpRequest, answer) -> HttpResponse:
    """The livestream list of the range as CSV: streamed, UTF-8 with a BOM so Excel reads Chinese."""
    context = _range_context(request, answer)
    date_range, creator = context["range"], answer.creator
    rows = (
        Livestream.objects.for_creator(creator)
        .started_between(date_range.start, date_range.end)
        .order_by("started_at", "pk")
        .values_list(*(name for name, _label in CSV_COLUMNS))
    )
    local = timezone.localtime

    def lines():
        for row in rows.iterator(chunk_size=2000):
            values = list(row)
            values[0] = local(values[0]).strftime("%Y-%m-%d %H:%M")
            values[1] = local(values[1]).strftime("%Y-%m-%d %H:%M") if values[1] else ""
            yield values

    filename = f"livestreams-{creator.pk}-{date_range.start:%Y%m%d}-{date_range.end:%Y%m%d}.csv"
    return csv_response(filename, [label for _name, label in CSV_COLUMNS], lines())
