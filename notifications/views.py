"""消息中心 (the inbox), opening a message, 全部已读, and 通知设置 — each for the signed-in user only."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.pagination import paginate
from portal.responses import page_or_fragment

from . import calendar, services
from .context_processors import unread_label
from .forms import SettingsForm
from .models import CalendarFeed, Message, NotificationSettings


def _show_param(request: HttpRequest) -> str:
    return "all" if request.GET.get("show") == "all" else "unread"


def _inbox_context(request: HttpRequest, show: str) -> dict:
    shown = Message.objects.for_recipient(request.user)
    if show == "unread":
        shown = shown.unread()
    return {"page": paginate(shown.newest_first(), request), "show": show}


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """Unread (the default) or all messages, newest first, a page at a time; each rendered now, in
    the page's language."""
    context = _inbox_context(request, _show_param(request))
    return page_or_fragment(request, "notifications/inbox.html", "inbox-list", context)


def _is_local(link: str) -> bool:
    return link.startswith("/") and not link.startswith("//") and "\\" not in link


@require_GET
def open_message(request: HttpRequest, message_id: int) -> HttpResponse:
    """Opening a message marks it read and goes to what it is about."""
    message = get_object_or_404(Message.objects.for_recipient(request.user), pk=message_id)
    services.mark_read(message=message, actor=request.user)
    return redirect(message.link if _is_local(message.link) else reverse("notifications:inbox"))


@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(actor=request.user)
    messages.success(request, _("已将 %(count)s 条消息标为已读。") % {"count": count} if count else _("没有未读消息。"))
    if not request.htmx:
        return redirect(reverse("notifications:inbox") + ("?show=all" if request.POST.get("show") == "all" else ""))
    show = "all" if request.POST.get("show") == "all" else "unread"
    context = {**_inbox_context(request, show), "unread_count": unread_label(0), "oob": True}
    return render(request, "notifications/_marked_read.html", context)


@require_http_methods(["GET", "POST"])
def settings_view(request: HttpRequest) -> HttpResponse:
    current = NotificationSettings.of(request.user)
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            services.update_settings(actor=request.user, **form.cleaned_data)
            messages.success(request, _("通知设置已保存。"))
            return redirect("notifications:settings")
    else:
        language = current.language if current.pk else request.LANGUAGE_CODE
        form = SettingsForm(
            initial={
                "email": request.user.email,
                "email_requests": current.email_requests,
                "email_decisions": current.email_decisions,
                "email_reminders": current.email_reminders,
                "language": language,
            }
        )
    status = 422 if form.errors else 200
    return render(request, "notifications/settings.html", {"form": form, **_calendar_context(request)}, status=status)


def _calendar_context(request: HttpRequest) -> dict:
    if not calendar.has_calendar(request.user):
        return {"calendar": None}
    feed = CalendarFeed.objects.filter(user_id=request.user.pk).first()
    url = request.build_absolute_uri(reverse("notifications:calendar_feed", args=[feed.token])) if feed else ""
    return {"calendar": {"url": url}}


@require_POST
def regenerate_calendar(request: HttpRequest) -> HttpResponse:
    """生成 / 重新生成 the private calendar URL (the old one is then a 404)."""
    if not calendar.has_calendar(request.user):
        raise PermissionDenied
    services.regenerate_calendar_feed(actor=request.user)
    messages.success(request, _("已生成新的日历订阅链接，旧链接已失效。"))
    return redirect(reverse("notifications:settings") + "#calendar")


@login_not_required
@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private iCalendar feed. Its token is the only credential: no session, no cookie, no
    CSRF token is touched (a calendar program has none), and nothing here logs the path."""
    feed = calendar.feed_for_token(token)
    if feed is None:
        response = HttpResponseNotFound(b"Not Found", content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(calendar.render(feed.user), content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="grants.ics"'
    # The answer depends on the token alone. Django's login-required check has read the session (an
    # anonymous one: nothing is saved, no cookie set); saying it was not used keeps the response free
    # of "Vary: Cookie", so it is the same for a calendar program and for a signed-in browser.
    request.session.accessed = False
    response["Cache-Control"] = "private, no-store, max-age=0"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response
