"""The kinds of message, registered by the apps that send them (``grants/notices.py``).

The notifications app does not know why a message is sent: a caller names a registered kind and
passes its parameters; the kind turns them into text when the message is read, in the reader's
language (the active one: the page's, or the recipient's for an email). A message stores its kind
and parameters, never a rendered sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    """What a user can switch email off for (SPEC §10: requests, decisions, reminders)."""

    REQUESTS = "requests", _("新的申请")
    DECISIONS = "decisions", _("授权与处理结果")
    REMINDERS = "reminders", _("到期与待办提醒")


@dataclass(frozen=True)
class Kind:
    """``title(params)``: a few words (an email's subject); ``text(params)``: the message."""

    name: str
    category: str
    title: Callable[[dict], str]
    text: Callable[[dict], str]


_KINDS: dict[str, Kind] = {}


def register(name: str, *, category: str, title: Callable[[dict], str], text: Callable[[dict], str]) -> Kind:
    if category not in Category.values:
        raise ValueError(f"unknown category {category!r}")
    if name in _KINDS and _KINDS[name].category != category:
        raise ValueError(f"message kind {name!r} registered twice")
    kind = _KINDS[name] = Kind(name=name, category=category, title=title, text=text)
    return kind


def get(name: str) -> Kind:
    """The registered kind; ``KeyError`` for one nobody registered."""
    return _KINDS[name]


def registered() -> dict[str, Kind]:
    return dict(_KINDS)


def _fallback(params: dict) -> str:
    return str(_("一条消息"))


UNKNOWN = Kind(name="", category=Category.DECISIONS, title=_fallback, text=_fallback)


def kind_of(name: str) -> Kind:
    """The kind, or a neutral stand-in for one no longer registered (old messages stay readable)."""
    return _KINDS.get(name, UNKNOWN)
