"""直播间数据管理: the creator's pending requests, decided in place."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from grants import services
from grants.models import LivestreamAccessRequest, RequestStatus
from livestreams.factories import LivestreamFactory
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def make_request(creator=None, shop=None):
    creator = creator or CreatorFactory()
    shop = shop or ShopFactory()
    stream = LivestreamFactory(creator=creator, cooperating=[shop], minutes=0)
    return services.request_livestream_access(livestream=stream, actor=shop.main_account)


def test_pending_requests_listed_with_badge(client):
    access_request = make_request()
    creator = access_request.livestream.creator
    client.force_login(creator.user)
    html = client.get(reverse("grants:creator_requests")).content.decode()
    assert access_request.organization.name in html
    assert access_request.livestream.title in html
    assert 'id="pending-badge"' in html
    assert ">1</span>" in html


@pytest.mark.parametrize("count", [1, 30])
def test_request_list_query_count_is_fixed(client, django_assert_num_queries, count):
    creator = CreatorFactory()
    for _ in range(count):
        make_request(creator=creator)
    client.force_login(creator.user)
    # session, user, counts (the badge shows the pending one), rows, their events (prefetch)
    with django_assert_num_queries(5):
        assert client.get(reverse("grants:creator_requests")).status_code == 200


def test_approve_in_place_with_htmx(client):
    access_request = make_request()
    client.force_login(access_request.livestream.creator.user)
    response = client.post(reverse("grants:approve_request", args=[access_request.pk]), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="request-row-{access_request.pk}"')
    assert "已授权" in html
    assert 'id="pending-badge" class="nav-badge" hx-swap-oob="true"' in html
    access_request.refresh_from_db()
    assert access_request.status == RequestStatus.APPROVED


def test_decline_and_revoke_plain_posts_redirect(client):
    declined, approved = make_request(), make_request()
    client.force_login(approved.livestream.creator.user)
    assert client.post(reverse("grants:decline_request", args=[declined.pk])).status_code == 404  # other creator's
    services.approve_livestream_request(request=approved, actor=approved.livestream.creator.user)
    response = client.post(reverse("grants:revoke_request", args=[approved.pk]))
    assert response.status_code == 302
    assert response.url == reverse("grants:creator_requests")
    approved.refresh_from_db()
    assert approved.status == RequestStatus.REVOKED


def test_deciding_twice_shows_message_and_changes_nothing(client):
    access_request = make_request()
    client.force_login(access_request.livestream.creator.user)
    client.post(reverse("grants:decline_request", args=[access_request.pk]))
    response = client.post(reverse("grants:approve_request", args=[access_request.pk]), follow=True)
    assert "只能处理待审批的申请" in response.content.decode()
    access_request.refresh_from_db()
    assert access_request.status == RequestStatus.DECLINED


@pytest.mark.parametrize("name", ["approve_request", "decline_request", "revoke_request"])
def test_other_parties_cannot_decide(client, name):
    access_request = make_request()
    client.force_login(CreatorFactory().user)
    assert client.post(reverse(f"grants:{name}", args=[access_request.pk])).status_code == 404
    assert client.post(reverse(f"grants:{name}", args=[access_request.pk + 999])).status_code == 404
    for member in (
        access_request.organization.main_account,
        SubAccountFactory(organization=access_request.organization),
    ):
        client.force_login(member)
        assert client.post(reverse(f"grants:{name}", args=[access_request.pk])).status_code == 403
    assert LivestreamAccessRequest.objects.get().status == RequestStatus.PENDING


def test_decisions_require_csrf():
    access_request = make_request()
    client = Client(enforce_csrf_checks=True)
    client.force_login(access_request.livestream.creator.user)
    assert client.post(reverse("grants:approve_request", args=[access_request.pk]), **HTMX).status_code == 403
    assert LivestreamAccessRequest.objects.get().status == RequestStatus.PENDING


def test_get_is_not_allowed_on_decisions(client):
    access_request = make_request()
    client.force_login(access_request.livestream.creator.user)
    assert client.get(reverse("grants:approve_request", args=[access_request.pk])).status_code == 405


def test_decline_dialog_with_a_reason_refreshes_the_list_it_came_from(client):
    access_request = make_request()
    client.force_login(access_request.livestream.creator.user)
    url = reverse("grants:decline_request", args=[access_request.pk])
    dialog = client.get(url, **HTMX).content.decode()
    assert "<html" not in dialog
    assert 'name="reason"' in dialog
    response = client.post(
        url, {"reason": "数据核对中"}, HTTP_HX_CURRENT_URL="http://testserver/requests/?status=pending", **HTMX
    )
    html = response.content.decode()
    assert "close-dialog" in response.headers["HX-Trigger"]
    assert 'id="request-list" hx-swap-oob="true"' in html
    assert 'id="pending-badge" class="nav-badge" hx-swap-oob="true"' in html
    access_request.refresh_from_db()
    assert (access_request.status, access_request.reason) == (RequestStatus.DECLINED, "数据核对中")


def test_the_expired_tab_lists_requests_nobody_decided(client):
    access_request = make_request()
    LivestreamAccessRequest.objects.filter(pk=access_request.pk).update(
        created_at=access_request.created_at - datetime.timedelta(days=8)
    )
    client.force_login(access_request.livestream.creator.user)
    pending = client.get(reverse("grants:creator_requests")).content.decode()
    assert f'id="request-row-{access_request.pk}"' not in pending
    expired = client.get(reverse("grants:creator_requests"), {"status": "expired"}).content.decode()
    assert f'id="request-row-{access_request.pk}"' in expired
    assert "过期未处理" in expired
    assert reverse("grants:approve_request", args=[access_request.pk]) not in expired
