"""The admin's read-only base: rows that only the services and writers may change are shown, never
added, changed or deleted from the admin (``grants.admin``, ``livestreams.admin``)."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model admin that shows rows (lists, search, filters, the change page as a view page) and
    never adds, changes or deletes them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline:
    """Mixed into a ``TabularInline``/``StackedInline``: shows the related rows, never edits them."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
