"""What every bad-input test does: post as a browser would, count the rows, roll the example back,
and check the answer (refused inline, done, or not found)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import urlencode, urlsplit

from django.db import connection, transaction
from django.urls import reverse
from hypothesis import HealthCheck, settings

from grants.models import (
    Grant,
    GrantEvent,
    GrantRequest,
    GrantRequestEvent,
    LivestreamAccessEvent,
    LivestreamAccessRequest,
)
from notifications.models import Message, NotificationSettings

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(examples: int) -> settings:
    """Hypothesis settings: ``examples`` per test (the whole package stays under a minute on PostgreSQL)."""
    return settings(FUZZ, max_examples=examples)


COUNTED = (
    Grant, GrantEvent, LivestreamAccessRequest, LivestreamAccessEvent, GrantRequest, GrantRequestEvent, Message,
    NotificationSettings,
)  # fmt: skip
MISSING = "<missing>"  # a field left out of the post altogether
HOST = "testserver"


def table_counts(models) -> dict[str, int]:
    """Row counts of ``models`` in one query."""
    tables = (connection.ops.quote_name(m._meta.db_table) for m in models)
    parts = ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in tables)  # noqa: S608 - model tables
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        return dict(zip((m.__name__ for m in models), cursor.fetchone(), strict=True))


def counts() -> dict[str, int]:
    return table_counts(COUNTED)


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in before if after[name] != before[name]}


@contextmanager
def rolled_back():
    """One example: whatever it writes is undone, so the next one starts from the same world."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def text_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def is_safe_location(response) -> bool:
    """The redirect stays on this site: a path, or a URL of this host (browsers read '\\' as '/')."""
    parts = urlsplit(response["Location"].replace("\\", "/"))
    return parts.scheme in ("", "http", "https") and parts.netloc in ("", HOST) and not parts.path.startswith("//")


def path_with_id(name: str, pk: int) -> str:
    """The URL of ``name`` with ``pk`` in its id segment, even one the resolver will not match (the
    id converter takes at most 18 digits, so such a URL is a 404 before any view runs)."""
    return reverse(name, args=[777_000_777]).replace("777000777", str(pk))


def absent_pk(model) -> int:
    return (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


def post(client, url: str, fields: dict, htmx: str = "plain", *, csrf: bool = True):
    """POST as a browser's form would (urlencoded); HTMX variants add its request headers."""
    data = {key: value for key, value in fields.items() if value != MISSING}
    if csrf:
        data.setdefault("csrfmiddlewaretoken", "x" * 32)  # real forms always carry it; not enforced here
    headers = {}
    if htmx != "plain":
        headers["HTTP_HX_REQUEST"] = "true"
    if htmx == "htmx-from-list":
        headers["HTTP_HX_CURRENT_URL"] = f"http://{HOST}{reverse('grants:creator_grants')}?status=active&q=%E4%B8%80"
    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded", **headers)


def assert_refused(response, htmx: str, errors: list[tuple[str | None, str | None]], before: dict[str, int]) -> None:
    """Refused: nothing written, 422 (a page) or 200 (the dialog's fragment), and each expected error
    shown inline — on its field (``field``), or at the top of the form (``None``) — with its message."""
    body = text_of(response)
    assert delta(before, counts()) == {}, "a refused post wrote something"
    if htmx == "plain":
        assert response.status_code == 422, response.status_code
    else:
        assert response.status_code == 200, response.status_code
        assert "HX-Refresh" not in response
        assert "close-dialog" not in response.get("HX-Trigger", "")
    assert re.search(r'class="(errorlist|form-errors)', body), "no inline error shown"
    for field, message in errors:
        if field is not None:
            assert f'id="id_{field}_error"' in body, f"no inline error on {field}"
        if message is not None:
            assert message in body, f"expected the message {message!r}"


def assert_done(response, htmx: str, before: dict[str, int], writes: dict[str, int]) -> None:
    assert delta(before, counts()) == writes
    if htmx == "plain":
        assert response.status_code == 302, response.status_code
        assert is_safe_location(response), response["Location"]
    else:
        assert response.status_code == 200, response.status_code
        assert response.get("HX-Refresh") == "true" or "close-dialog" in response.get("HX-Trigger", "")


def assert_not_found(response, before: dict[str, int]) -> None:
    assert response.status_code == 404, response.status_code
    assert delta(before, counts()) == {}
