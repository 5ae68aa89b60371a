"""The immutable history rows every service writes (one event per change), and their reads."""

from __future__ import annotations

from django.db import models


class HistoryQuerySet(models.QuerySet):
    """History is append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs):
        raise PermissionError("history events are immutable")

    def delete(self):
        raise PermissionError("history events are immutable")


class ImmutableModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("history events are immutable")
        # Insert only: a new instance carrying an existing event's pk must not UPDATE that row.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("history events are immutable")
