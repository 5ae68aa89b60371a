import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command

from portal.factories import DEMO_PASSWORD
from portal.models import Membership

pytestmark = pytest.mark.django_db

DEMO_USERS = ["creator", "creator2", "shop", "shop-staff", "agency", "admin"]


def _counts():
    apps_seeded = ("portal", "grants", "livestreams", "notifications")
    models = [m for app in apps_seeded for m in apps.get_app_config(app).get_models()]
    return {m._meta.label: m.objects.count() for m in models}


def test_seed_demo_twice_adds_nothing(capsys):
    call_command("seed_demo")
    first = _counts()
    out = capsys.readouterr().out
    for username in DEMO_USERS:
        assert username in out
    call_command("seed_demo")
    assert _counts() == first
    assert first["portal.Creator"] >= 30
    assert first["portal.Organization"] >= 30


def test_demo_accounts_log_in_with_the_demo_password():
    call_command("seed_demo")
    for username in DEMO_USERS:
        assert authenticate(username=username, password=DEMO_PASSWORD) is not None, username
    shop_staff = authenticate(username="shop-staff", password=DEMO_PASSWORD)
    assert shop_staff.membership.role == Membership.Role.SUB
    assert shop_staff.membership.organization.main_account.username == "shop"
    assert authenticate(username="agency", password=DEMO_PASSWORD).membership.organization.kind == "agency"
    assert authenticate(username="admin", password=DEMO_PASSWORD).is_superuser


def test_the_demo_has_requests_in_every_state_and_unread_messages():
    from grants.models import GrantRequest, LivestreamAccessRequest
    from notifications.models import Message
    from portal.models import Creator, User

    call_command("seed_demo")
    creator = Creator.objects.get(user__username="creator")
    requests = GrantRequest.objects.for_creator(creator)
    statuses = [r.status for r in requests]
    assert statuses.count("pending") >= 3
    assert {"declined", "expired"} <= set(statuses)
    assert set(requests.pending().values_list("kind", flat=True)) == {"grant", "extension"}
    assert requests.filter(status="declined").exclude(reason="").exists()
    assert LivestreamAccessRequest.objects.for_creator(creator).expired().exists()
    for username in ("creator", "shop", "shop-staff"):
        assert Message.objects.unread_count(User.objects.get(username=username)) > 0, username
    shop = User.objects.get(username="shop")
    assert Message.objects.for_recipient(shop).filter(kind="grant_request_declined").exists()


def test_demo_scopes_and_delegation():
    """SPEC §12 in the demo: creator2's grant to shop covers the overview only; shop-staff holds a
    30-day delegation of creator's grant (数据概览 + 直播列表)."""
    import datetime

    from django.utils import timezone

    from grants import access
    from portal.models import Creator, User

    call_command("seed_demo")
    shop, staff = User.objects.get(username="shop"), User.objects.get(username="shop-staff")
    creator, creator2 = Creator.objects.get(user__username="creator"), Creator.objects.get(user__username="creator2")
    assert access.creator_access(shop, creator2).parts == {"overview"}
    assert access.creator_access(shop, creator).parts == {"overview", "products", "livestreams", "modules"}
    answer = access.creator_access(staff, creator)
    assert answer.parts == {"overview", "livestreams"}
    assert answer.ends_on == timezone.localdate() + datetime.timedelta(days=30)
    assert not access.creator_access(staff, creator2)
