"""Refusals and the helpers every service shares."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal.models import Creator

from ..models import (
    Grant,
)

# --- refusals -------------------------------------------------------------------------------


def _refuse(code: str, message: str, field: str | None = None) -> ValidationError:
    error = ValidationError(message, code=code)
    return ValidationError({field: error}) if field else error


def _require_creator(creator: Creator, actor) -> None:
    """Only the creator who owns the grant may operate on it."""
    if actor is None or not actor.is_authenticated or creator.user_id != actor.pk:
        raise PermissionDenied(_("只有授权的达人本人可以执行此操作。"))


def _check_period(starts_on: datetime.date, ends_on: datetime.date, day: datetime.date) -> None:
    if starts_on < day:
        raise _refuse("starts_in_past", _("开始日期不能早于今天（%(today)s）。") % {"today": _d(day)}, "starts_on")
    if ends_on < starts_on:
        raise _refuse("ends_before_start", _("截止日期不能早于开始日期。"), "ends_on")


def _d(day: datetime.date) -> str:
    return date_format(day, "Y-m-d")


def _lock(grant: Grant) -> Grant:
    """Re-read the grant under a row lock, so two operations on it are serialized."""
    return Grant.objects.select_for_update().select_related("creator", "organization").get(pk=grant.pk)


def _lock_creator(creator_id: int) -> None:
    """Serialize what concerns one creator's grants and requests: authorizing, asking and deciding
    all lock the creator's row first (then the request's), so a request made while another is being
    approved sees the grant that approval made, and no two of them wait on each other in a cycle."""
    Creator.objects.select_for_update().filter(pk=creator_id).exists()
