from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Prefetch
from django.utils.translation import gettext_lazy as _

from .models import Creator, Membership, Organization, User


class PartyFilter(admin.SimpleListFilter):
    title = _("身份")
    parameter_name = "party"

    def lookups(self, request, model_admin):
        return [("creator", _("达人")), ("main", _("主账号")), ("sub", _("子账号")), ("none", _("无"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "creator":
            return queryset.filter(creator__isnull=False)
        if value in ("main", "sub"):
            return queryset.filter(membership__role=value)
        if value == "none":
            return queryset.filter(creator__isnull=True, membership__isnull=True)
        return queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "party", "is_staff", "is_active", "last_login", "date_joined")
    list_filter = (PartyFilter, "is_staff", "is_superuser", "is_active")
    list_select_related = ("creator", "membership__organization")

    @admin.display(description=_("身份"))
    def party(self, obj):
        if obj.creator_or_none:
            return _("达人 · %(name)s") % {"name": obj.creator.name}
        if obj.membership_or_none:
            return f"{obj.membership.organization} · {obj.membership.get_role_display()}"
        return "—"


@admin.register(Creator)
class CreatorAdmin(admin.ModelAdmin):
    list_display = ("name", "douyin_id", "user", "created_at")
    search_fields = ("name", "douyin_id", "user__username")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    raw_id_fields = ("user",)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "code", "main_account_name", "member_count", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "code", "memberships__user__username")
    inlines = [MembershipInline]

    def get_queryset(self, request):
        mains = Membership.objects.filter(role=Membership.Role.MAIN).select_related("user")
        return (
            super()
            .get_queryset(request)
            .annotate(_members=Count("memberships", distinct=True))
            .prefetch_related(Prefetch("memberships", queryset=mains, to_attr="_mains"))
        )

    @admin.display(description=_("主账号"))
    def main_account_name(self, obj):
        return obj._mains[0].user.get_username() if obj._mains else "—"

    @admin.display(description=_("账号数"), ordering="_members")
    def member_count(self, obj):
        return obj._members


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role", "organization__kind")
    search_fields = ("user__username", "organization__name", "organization__code")
    list_select_related = ("user", "organization")
    raw_id_fields = ("user", "organization")
