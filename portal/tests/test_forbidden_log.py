"""Every 403 is logged as one line — user, path, reason — without a traceback (issue 12, item 10);
other errors keep theirs."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

pytestmark = pytest.mark.django_db


def records(caplog, status: int):
    return [r for r in caplog.records if r.name == "django.request" and getattr(r, "status_code", None) == status]


def formatted(record) -> str:
    return logging.Formatter("%(levelname)s %(message)s").format(record)


def test_a_refusal_is_one_line_with_user_path_and_reason(client, caplog):
    creator = CreatorFactory(user__username="alice")
    client.force_login(creator.user)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("grants:org_home")).status_code == 403
    (record,) = records(caplog, 403)
    line = formatted(record)
    assert line == "WARNING Forbidden: user=alice path=/org/ reason=-"
    assert record.exc_info is None
    assert "Traceback" not in line


def test_the_reason_is_the_refusals_message(client, caplog, monkeypatch):
    staff = SubAccountFactory(organization=ShopFactory(), username="shop-staff-1")
    client.force_login(staff)

    def refuse(request):
        raise PermissionDenied("只有达人本人可以查看。")

    monkeypatch.setattr("grants.views.grants._creator_of", refuse)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("grants:creator_grants")).status_code == 403
    lines = [formatted(r) for r in records(caplog, 403)]
    assert lines == ["WARNING Forbidden: user=shop-staff-1 path=/grants/ reason=只有达人本人可以查看。"]


def test_every_refusal_of_a_crawl_is_one_line(client, caplog):
    """Many refusals, as a probe makes them: as many lines, no traceback among them."""
    client.force_login(CreatorFactory().user)
    paths = [reverse("grants:org_home"), reverse("grants:perspective_menu"), reverse("livestreams:org_livestreams")]
    with caplog.at_level(logging.WARNING, logger="django.request"):
        statuses = [client.get(path).status_code for path in paths * 5]
    refused = statuses.count(403)
    assert refused >= 10
    logged = records(caplog, 403)
    assert len(logged) == refused
    assert not any("Traceback" in formatted(r) or r.exc_info for r in logged)


def test_server_errors_keep_their_traceback(caplog, monkeypatch):
    web = Client(raise_request_exception=False)
    web.force_login(CreatorFactory().user)

    def broken(*args, **kwargs):
        raise RuntimeError("a real bug")

    monkeypatch.setattr("grants.views.grants._creator_list_context", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        assert web.get(reverse("grants:creator_grants")).status_code == 500
    (record,) = records(caplog, 500)
    assert "Traceback" in formatted(record)
    assert "a real bug" in formatted(record)
