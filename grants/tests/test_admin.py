import pytest
from django.urls import reverse

from grants.factories import GrantFactory
from grants.models import Grant, GrantEvent
from portal.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_lists_and_filters_grants_by_derived_status(staff_client, frozen_today):
    active = GrantFactory()
    expired = GrantFactory(expired=True)
    url = reverse("admin:grants_grant_changelist")
    html = staff_client.get(url, {"status": "expired"}).content.decode()
    assert expired.organization.name in html
    assert active.organization.name not in html
    html = staff_client.get(url, {"q": active.creator.douyin_id}).content.decode()
    assert active.organization.name in html


def test_admin_cannot_change_grants_or_history(staff_client, frozen_today):
    grant = GrantFactory()
    event = grant.events.get()
    assert staff_client.get(reverse("admin:grants_grant_add")).status_code == 403
    assert (
        staff_client.post(reverse("admin:grants_grant_change", args=[grant.pk]), {"ends_on": "2030-01-01"}).status_code
        == 403
    )
    assert staff_client.post(reverse("admin:grants_grant_delete", args=[grant.pk]), {"post": "yes"}).status_code == 403
    assert (
        staff_client.post(
            reverse("admin:grants_grantevent_change", args=[event.pk]), {"operation": "revoke"}
        ).status_code
        == 403
    )
    assert (
        staff_client.post(reverse("admin:grants_grantevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert staff_client.get(reverse("admin:grants_grantevent_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:grants_grant_change", args=[grant.pk])).status_code == 200  # view only
    grant.refresh_from_db()
    assert Grant.objects.count() == 1
    assert GrantEvent.objects.get().operation == "authorize"


def test_admin_filters_requests_by_their_status_now_and_shows_history_read_only(staff_client, frozen_today):
    from grants.factories import GrantRequestFactory
    from grants.models import GrantRequest, GrantRequestEvent

    fresh = GrantRequestFactory()
    stale = GrantRequestFactory(expired=True)
    url = reverse("admin:grants_grantrequest_changelist")
    html = staff_client.get(url, {"status": "expired"}).content.decode()
    assert f"/{stale.pk}/change/" in html
    assert f"/{fresh.pk}/change/" not in html
    html = staff_client.get(url, {"status": "pending"}).content.decode()
    assert f"/{fresh.pk}/change/" in html
    assert f"/{stale.pk}/change/" not in html
    assert staff_client.get(reverse("admin:grants_grantrequest_change", args=[fresh.pk])).status_code == 200
    event = GrantRequestEvent.objects.filter(request=fresh).get()
    assert (
        staff_client.post(
            reverse("admin:grants_grantrequestevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        staff_client.post(reverse("admin:grants_grantrequest_delete", args=[fresh.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert GrantRequest.objects.count() == 2


def test_admin_shows_messages_read_only(staff_client, frozen_today):
    from notifications import services
    from notifications.models import Message
    from portal.factories import ShopFactory

    user = ShopFactory().main_account
    services.notify(recipients=[user], kind="grant_changed", params={"creator": "小雅美妆", "operation": "revoke"})
    message = Message.objects.get()
    html = staff_client.get(reverse("admin:notifications_message_changelist")).content.decode()
    assert "小雅美妆" in html
    assert (
        staff_client.post(reverse("admin:notifications_message_delete", args=[message.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert Message.objects.count() == 1
