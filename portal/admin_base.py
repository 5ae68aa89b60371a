"""The admin's read-only base: rows that only the services and writers may change are shown, never
added, changed or deleted from the admin (``grants.admin``, ``livestreams.admin``)."""

from django.contrib import admin


class ReadOnly:
    """Mixed into a model admin or an inline: no adding, changing or deleting, whoever asks."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    """A model admin that shows rows (lists, search, filters, the change page as a view page) and
    never adds, changes or deletes them."""


class ReadOnlyInline(ReadOnly):
    """Mixed into a ``TabularInline``/``StackedInline``: shows the related rows, never edits them."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]
