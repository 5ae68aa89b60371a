"""Admin for the livestream data. The data comes from the import: derived rows (cooperations, sums)
are read-only, and the minute series is never rendered inline (a livestream has hundreds of minutes;
the change page shows their count and links to the filtered list instead)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Audience, Cooperation, Funnel, Livestream, MinutePoint, ProductSale, TrafficSources


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


class ReadOnlyInline:
    """An inline that shows rows and never edits them."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ProductSaleInline(ReadOnlyInline, admin.TabularInline):
    model = ProductSale
    fields = ("organization", "sku", "name", "price", "units", "orders", "gmv")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")


class CooperationInline(ReadOnlyInline, admin.TabularInline):
    model = Cooperation
    fields = ("organization", "gmv", "orders", "units")
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")


class FunnelInline(ReadOnlyInline, admin.StackedInline):
    model = Funnel
    show_change_link = False


class TrafficSourcesInline(ReadOnlyInline, admin.StackedInline):
    model = TrafficSources
    show_change_link = False


class AudienceInline(ReadOnlyInline, admin.StackedInline):
    model = Audience
    show_change_link = False


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
    readonly_fields = ("gmv", "orders", "units", "minute_points", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("creator", "external_id", "title", "started_at", "ended_at")}),
        (_("数据"), {"fields": ("viewers", "peak_online", "avg_watch_seconds", "new_followers")}),
        (_("商品合计"), {"fields": ("gmv", "orders", "units")}),
        (None, {"fields": ("minute_points", "created_at", "updated_at")}),
    )
    inlines = (ProductSaleInline, CooperationInline, FunnelInline, TrafficSourcesInline, AudienceInline)

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
class ProductSaleAdmin(admin.ModelAdmin):
    list_display = ("name", "sku", "organization", "livestream", "price", "units", "orders", "gmv")
    list_filter = ("organization__kind",)
    search_fields = ("name", "sku", "organization__name", "organization__code", "livestream__title",
                     "livestream__external_id")  # fmt: skip
    list_select_related = ("organization", "livestream")
    raw_id_fields = ("livestream", "organization")

    # Writing a product alone would leave the cooperations and sums behind: the import (through
    # Livestream.replace_products) is the writer.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Cooperation)
class CooperationAdmin(admin.ModelAdmin):
    list_display = ("organization", "livestream", "started_at", "gmv", "orders", "units")
    list_filter = ("organization__kind", "started_at")
    search_fields = ("organization__name", "organization__code", "livestream__title", "livestream__external_id")
    list_select_related = ("organization", "livestream")
    raw_id_fields = ("livestream", "organization")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MinutePoint)
class MinutePointAdmin(admin.ModelAdmin):
    list_display = ("livestream", "at", "online", "entries", "gmv", "orders")
    search_fields = ("livestream__external_id",)
    list_select_related = ("livestream",)
    raw_id_fields = ("livestream",)
    list_filter = ("livestream__started_at",)
    # Millions of rows: no COUNT(*) of the whole table on every page, and an order the unique
    # (livestream, at) index serves.
    show_full_result_count = False
    ordering = ("-livestream_id", "-at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MetricsAdmin(admin.ModelAdmin):
    list_select_related = ("livestream",)
    list_filter = ("livestream__started_at",)
    search_fields = ("livestream__title", "livestream__external_id")
    raw_id_fields = ("livestream",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Funnel)
class FunnelAdmin(MetricsAdmin):
    list_display = ("livestream", "impressions", "entries", "product_impressions", "product_clicks", "orders")


@admin.register(TrafficSources)
class TrafficSourcesAdmin(MetricsAdmin):
    list_display = ("livestream", "feed", "follow", "search", "video", "paid", "other")


@admin.register(Audience)
class AudienceAdmin(MetricsAdmin):
    list_display = ("livestream", "female", "male", "new", "returning")
