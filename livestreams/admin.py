"""Admin for the livestream data. The data comes from the import and is read-only here, with two
exceptions that go through the writers (``livestreams.writes``), so that the sums, the creator
roll-up, the module cache key and the requests' copy of the creator follow: a livestream can be
given to another creator (``move_livestream``) and deleted (``delete_livestreams``; refused while
access requests point at it). Products, cooperations, minutes, funnels, sources, audiences and
the roll-up (``CreatorDay``) are shown only. The minute series is never rendered inline (a
livestream has hundreds of minutes; the change page shows their count and links to the filtered
list instead)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from portal.admin_base import ReadOnlyAdmin, ReadOnlyInline

from . import writes
from .models import Audience, Cooperation, CreatorDay, Funnel, Livestream, MinutePoint, ProductSale, TrafficSources


class LiveFilter(admin.SimpleListFilter):
    title = _("状态")
    parameter_name = "live"

    def lookups(self, request, model_admin):
        return [("yes", _("直播中")), ("no", _("已结束"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.live()
        if self.value() == "no":
            return queryset.ended()
        return queryset


class ProductSaleInline(ReadOnlyInline, admin.TabularInline):
    model = ProductSale
    show_change_link = True
    fields = ("organization", "sku", "name", "price", "units", "orders", "gmv")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")


class CooperationInline(ReadOnlyInline, admin.TabularInline):
    model = Cooperation
    fields = ("organization", "gmv", "orders", "units")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")


class FunnelInline(ReadOnlyInline, admin.StackedInline):
    model = Funnel


class TrafficSourcesInline(ReadOnlyInline, admin.StackedInline):
    model = TrafficSources


class AudienceInline(ReadOnlyInline, admin.StackedInline):
    model = Audience


@admin.register(Livestream)
class LivestreamAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "creator",
        "external_id",
        "started_at",
        "ended_at",
        "is_live",
        "gmv",
        "orders",
        "viewers",
        "peak_online",
    )
    list_filter = (LiveFilter, "started_at")
    search_fields = ("title", "external_id", "creator__name", "creator__douyin_id")
    list_select_related = ("creator",)
    date_hierarchy = "started_at"
    raw_id_fields = ("creator",)
    # Everything but the creator is the import's; the creator changes through the move writer.
    readonly_fields = (
        "external_id", "title", "started_at", "ended_at", "viewers", "peak_online", "avg_watch_seconds",
        "new_followers", "gmv", "orders", "units", "minute_points", "created_at", "updated_at",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("creator", "external_id", "title", "started_at", "ended_at")}),
        (_("数据"), {"fields": ("viewers", "peak_online", "avg_watch_seconds", "new_followers")}),
        (_("商品合计"), {"fields": ("gmv", "orders", "units")}),
        (None, {"fields": ("minute_points", "created_at", "updated_at")}),
    )
    inlines = (ProductSaleInline, CooperationInline, FunnelInline, TrafficSourcesInline, AudienceInline)

    def has_add_permission(self, request):
        return False  # livestreams come from the import

    def save_model(self, request, obj, form, change):
        if "creator" in form.changed_data:
            writes.move_livestream(livestream=obj, creator=form.cleaned_data["creator"], actor=request.user)

    def delete_model(self, request, obj):
        writes.delete_livestream(livestream=obj)

    def delete_queryset(self, request, queryset):
        writes.delete_livestreams(ids=queryset.values_list("pk", flat=True))

    def get_deleted_objects(self, objs, request):
        # Its rows go with it, deleted by the writer; none of them may be deleted on its own, so
        # their admins' missing delete permission does not stop this one. Protected rows (access
        # requests) still do.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    @admin.display(boolean=True, description=_("直播中"))
    def is_live(self, obj):
        return obj.is_live

    @admin.display(description=_("分钟数据"))
    def minute_points(self, obj):
        if obj.pk is None:
            return "—"
        count = obj.minutes.count()
        url = reverse("admin:livestreams_minutepoint_changelist") + f"?livestream__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("%(count)s 条") % {"count": count})


@admin.register(ProductSale)
class ProductSaleAdmin(ReadOnlyAdmin):
    list_display = ("name", "sku", "organization", "livestream", "price", "units", "orders", "gmv")
    list_filter = ("organization__kind",)
    search_fields = ("name", "sku", "organization__name", "organization__code", "livestream__title",
                     "livestream__external_id")  # fmt: skip
    list_select_related = ("organization", "livestream")
    raw_id_fields = ("livestream", "organization")


@admin.register(Cooperation)
class CooperationAdmin(ReadOnlyAdmin):
    list_display = ("organization", "livestream", "started_at", "gmv", "orders", "units")
    list_filter = ("organization__kind", "started_at")
    search_fields = ("organization__name", "organization__code", "livestream__title", "livestream__external_id")
    list_select_related = ("organization", "livestream")
    raw_id_fields = ("livestream", "organization")


@admin.register(MinutePoint)
class MinutePointAdmin(ReadOnlyAdmin):
    list_display = ("livestream", "at", "online", "entries", "gmv", "orders")
    search_fields = ("livestream__external_id",)
    list_select_related = ("livestream",)
    raw_id_fields = ("livestream",)
    list_filter = ("livestream__started_at",)
    # Millions of rows: no COUNT(*) of the whole table on every page, and an order the unique
    # (livestream, at) index serves.
    show_full_result_count = False
    ordering = ("-livestream_id", "-at")


class MetricsAdmin(ReadOnlyAdmin):
    list_select_related = ("livestream",)
    list_filter = ("livestream__started_at",)
    search_fields = ("livestream__title", "livestream__external_id")
    raw_id_fields = ("livestream",)


@admin.register(Funnel)
class FunnelAdmin(MetricsAdmin):
    list_display = ("livestream", "impressions", "entries", "product_impressions", "product_clicks", "orders")


@admin.register(TrafficSources)
class TrafficSourcesAdmin(MetricsAdmin):
    list_display = ("livestream", "feed", "follow", "search", "video", "paid", "other")


@admin.register(Audience)
class AudienceAdmin(MetricsAdmin):
    list_display = ("livestream", "female", "male", "new", "returning")


@admin.register(CreatorDay)
class CreatorDayAdmin(ReadOnlyAdmin):
    """The roll-up, to look at: ``livestreams.rollup`` writes it from the livestreams."""

    list_display = ("creator", "day", "livestreams", "gmv", "orders", "units", "viewers")
    search_fields = ("creator__name", "creator__douyin_id")
    list_select_related = ("creator",)
    raw_id_fields = ("creator",)
    date_hierarchy = "day"
    ordering = ("-day", "creator_id")
