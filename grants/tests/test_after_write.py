"""Never a 500 after a successful write (issue 12, item 7): when the answer to a saved change cannot
be built, the change is still reported — a redirect (``HX-Redirect`` for HTMX) to the list, whose page
shows the success message — and the change stays saved."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from grants.factories import GrantFactory
from grants.models import Grant, LivestreamAccessRequest
from grants.services import request_livestream_access
from livestreams.factories import LivestreamFactory
from portal.factories import CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db
LIST = "http://testserver/grants/"


@pytest.fixture
def web():
    return Client(raise_request_exception=True)


def broken(*args, **kwargs):
    raise RuntimeError("the page after the change could not be built")


@pytest.mark.parametrize("htmx", [True, False])
def test_renewal_saved_then_the_list_fails_still_reports_it(web, monkeypatch, htmx):
    grant = GrantFactory()
    web.force_login(grant.creator.user)
    new_end = grant.ends_on + datetime.timedelta(days=30)
    monkeypatch.setattr("grants.views.grants._creator_list_context", broken)
    monkeypatch.setattr("grants.views.grants._safe_next", broken)
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": LIST} if htmx else {}
    response = web.post(reverse("grants:renew_early", args=[grant.pk]), {"ends_on": new_end.isoformat()}, **headers)
    if htmx:
        assert response.status_code == 200
        assert response["HX-Redirect"] == reverse("grants:creator_grants")
    else:
        assert response.status_code == 302
        assert response["Location"] == reverse("grants:creator_grants")
    assert Grant.objects.get(pk=grant.pk).ends_on == new_end
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"已为「{grant.organization.name}」提前续约至 {new_end}。"
    ]


def test_decision_saved_then_the_row_fails_still_reports_it(web, monkeypatch):
    creator, shop = CreatorFactory(), ShopFactory()
    livestream = LivestreamFactory(creator=creator, cooperating=[shop], minutes=0)
    access_request = request_livestream_access(livestream=livestream, actor=shop.main_account)
    web.force_login(creator.user)
    monkeypatch.setattr("grants.views.requests._request_rows", broken)
    response = web.post(
        reverse("grants:approve_request", args=[access_request.pk]), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=LIST
    )
    assert response["HX-Redirect"] == reverse("grants:creator_requests")
    assert LivestreamAccessRequest.objects.get(pk=access_request.pk).status == "approved"


def test_unlock_saved_then_the_page_fails_still_reports_it(web, monkeypatch):
    creator, shop = CreatorFactory(), ShopFactory()
    livestream = LivestreamFactory(creator=creator, cooperating=[shop], minutes=0)
    web.force_login(shop.main_account)
    monkeypatch.setattr("livestreams.views._detail_context", broken)
    response = web.post(reverse("livestreams:unlock", args=[livestream.pk]), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("livestreams:detail", args=[livestream.pk])
    assert LivestreamAccessRequest.objects.filter(livestream=livestream, status="pending").count() == 1
    monkeypatch.undo()
    page = web.get(response["HX-Redirect"])
    assert "已提交申请，等待达人审批。" in page.content.decode()
