"""Single-livestream requests (SPEC §5): request → approve/decline → revoke, and module access."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from grants import services
from grants.access import can_view_livestream_modules, livestream_access
from grants.factories import GrantFactory
from grants.models import Grant, LivestreamAccessEvent, LivestreamAccessRequest, RequestStatus
from livestreams.factories import LivestreamFactory
from notifications.models import Message
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory
from portal.models import User

from .conftest import TODAY, at_shanghai, error_codes

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    creator = CreatorFactory()
    shop = ShopFactory()
    stream = LivestreamFactory(creator=creator, cooperating=[shop], minutes=3)
    return {"creator": creator, "shop": shop, "stream": stream, "staff": SubAccountFactory(organization=shop)}


def events():
    return list(LivestreamAccessEvent.objects.order_by("pk").values_list("operation", flat=True))


def test_sub_account_requests_for_its_organization(world):
    request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    assert request.status == RequestStatus.PENDING
    assert request.organization == world["shop"]
    assert request.requested_by == world["staff"]
    assert events() == ["request"]


def test_second_request_while_pending_returns_the_pending_one(world):
    first = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    second = services.request_livestream_access(livestream=world["stream"], actor=world["shop"].main_account)
    assert second.pk == first.pk
    assert LivestreamAccessRequest.objects.count() == 1
    assert events() == ["request"]


def test_request_while_approved_is_refused(world):
    request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    services.approve_livestream_request(request=request, actor=world["creator"].user)
    with pytest.raises(ValidationError) as excinfo:
        services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    assert error_codes(excinfo.value) == {"already_approved"}
    assert LivestreamAccessRequest.objects.count() == 1
    assert events() == ["request", "approve"]


@pytest.mark.parametrize("end", ["decline", "revoke"])
def test_after_decline_or_revoke_a_new_request_is_allowed(world, end):
    request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    creator_user = world["creator"].user
    if end == "decline":
        services.decline_livestream_request(request=request, actor=creator_user)
    else:
        services.approve_livestream_request(request=request, actor=creator_user)
        services.revoke_livestream_access(request=request, actor=creator_user)
    again = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    assert again.pk != request.pk
    assert again.status == RequestStatus.PENDING


def test_only_cooperating_members_may_request(world):
    for outsider in (
        ShopFactory().main_account,
        AgencyFactory().main_account,
        CreatorFactory().user,
        world["creator"].user,
    ):
        with pytest.raises(PermissionDenied):
            services.request_livestream_access(livestream=world["stream"], actor=outsider)
    assert LivestreamAccessRequest.objects.count() == 0


def test_only_the_livestreams_creator_decides(world):
    request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    for intruder in (CreatorFactory().user, world["shop"].main_account, world["staff"]):
        for decide in (services.approve_livestream_request, services.decline_livestream_request):
            with pytest.raises(PermissionDenied):
                decide(request=request, actor=intruder)
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert events() == ["request"]


@pytest.mark.parametrize(
    ("setup", "call", "code"),
    [
        ("approve", services.approve_livestream_request, "not_pending"),
        ("decline", services.approve_livestream_request, "not_pending"),
        ("approve", services.decline_livestream_request, "not_pending"),
        (None, services.revoke_livestream_access, "not_approved"),
        ("decline", services.revoke_livestream_access, "not_approved"),
    ],
)
def test_decisions_only_from_the_right_status(world, setup, call, code):
    request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    creator_user = world["creator"].user
    if setup == "approve":
        services.approve_livestream_request(request=request, actor=creator_user)
    elif setup == "decline":
        services.decline_livestream_request(request=request, actor=creator_user)
    before = (LivestreamAccessRequest.objects.get().status, events())
    with pytest.raises(ValidationError) as excinfo:
        call(request=request, actor=creator_user)
    assert error_codes(excinfo.value) == {code}
    assert (LivestreamAccessRequest.objects.get().status, events()) == before


def fresh(user):
    return User.objects.get(pk=user.pk)


def seen(user, stream) -> tuple[bool, bool]:
    answer = livestream_access(user, stream)
    return answer.detail, answer.modules


def test_module_access_follows_approval_and_revoke_at_once(world, django_assert_max_num_queries):
    stream, staff, main = world["stream"], world["staff"], world["shop"].main_account
    for user in (staff, main):
        assert not can_view_livestream_modules(fresh(user), stream)
        answer = livestream_access(fresh(user), stream)
        assert (answer.detail, answer.modules, answer.may_request, answer.own_products_only) == (
            True,
            False,
            True,
            True,
        )
        assert answer.authority is None
    request = services.request_livestream_access(livestream=stream, actor=staff)
    assert not can_view_livestream_modules(fresh(staff), stream)
    services.approve_livestream_request(request=request, actor=world["creator"].user)
    for user in (staff, main):
        loaded = fresh(user)
        with django_assert_max_num_queries(1):
            assert can_view_livestream_modules(loaded, stream)
        with django_assert_max_num_queries(1):
            answer = livestream_access(user, stream)
        assert (answer.detail, answer.modules, answer.own_products_only) == (True, True, True)
        assert isinstance(answer.authority, LivestreamAccessRequest)
        assert answer.authority.pk == request.pk
    services.revoke_livestream_access(request=request, actor=world["creator"].user)
    for user in (staff, main):
        assert not can_view_livestream_modules(fresh(user), stream)


def test_creator_sees_modules_of_own_livestreams_only(world, django_assert_max_num_queries):
    creator_user = fresh(world["creator"].user)
    with django_assert_max_num_queries(1):
        assert can_view_livestream_modules(creator_user, world["stream"])
    with django_assert_max_num_queries(0):
        assert can_view_livestream_modules(world["creator"].user, world["stream"])
    other = LivestreamFactory(minutes=0)
    assert not can_view_livestream_modules(creator_user, other)
    assert seen(creator_user, other) == (False, False)
    own = livestream_access(creator_user, world["stream"])
    assert (own.owner, own.own_products_only, own.may_request, own.authority) == (True, False, False, None)


def test_main_account_with_active_full_grant_sees_all_modules_of_the_creator(world):
    agency = AgencyFactory()
    not_cooperating = LivestreamFactory(creator=world["creator"], cooperating=[world["shop"]], minutes=0)
    grant = GrantFactory(creator=world["creator"], organization=agency)
    assert can_view_livestream_modules(fresh(agency.main_account), not_cooperating)
    answer = livestream_access(fresh(agency.main_account), not_cooperating)
    # Through the grant, not a cooperation: the whole livestream, nothing to request.
    assert (answer.detail, answer.modules, answer.may_request, answer.own_products_only) == (True, True, False, False)
    assert isinstance(answer.authority, Grant)
    assert answer.authority.pk == grant.pk
    agency_staff = SubAccountFactory(organization=agency)
    assert not can_view_livestream_modules(fresh(agency_staff), not_cooperating)
    assert seen(fresh(agency_staff), not_cooperating) == (False, False)


@pytest.mark.parametrize("traits", [{"expired": True}, {"scheduled": True}, {"revoked": True}])
def test_inactive_full_grant_gives_no_module_access(world, traits):
    agency = AgencyFactory()
    GrantFactory(creator=world["creator"], organization=agency, **traits)
    assert not can_view_livestream_modules(fresh(agency.main_account), world["stream"])


def test_approval_for_one_organization_does_not_open_another(world):
    other_shop = ShopFactory()
    stream = LivestreamFactory(creator=world["creator"], cooperating=[world["shop"], other_shop], minutes=0)
    request = services.request_livestream_access(livestream=stream, actor=world["staff"])
    services.approve_livestream_request(request=request, actor=world["creator"].user)
    assert not can_view_livestream_modules(fresh(other_shop.main_account), stream)
    assert not can_view_livestream_modules(fresh(world["staff"]), world["stream"])  # another livestream


# --- SPEC §9: reasons and expiry; SPEC §10: who is told ------------------------------------------


def told(kind: str) -> set:
    return set(Message.objects.filter(kind=kind).values_list("recipient_id", flat=True))


def test_a_new_request_tells_the_creator_a_returned_one_nobody(world):
    services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    services.request_livestream_access(livestream=world["stream"], actor=world["shop"].main_account)
    assert told("livestream_request_received") == {world["creator"].user_id}
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("decide", "kind"),
    [("approve", "livestream_request_approved"), ("decline", "livestream_request_declined")],
)
def test_a_decision_tells_the_requester_and_the_main_account(world, decide, kind):
    request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    getattr(services, f"{decide}_livestream_request")(request=request, actor=world["creator"].user)
    assert told(kind) == {world["staff"].pk, world["shop"].main_account.pk}


def test_a_revoke_tells_the_requester_and_the_main_account_once_each(world):
    main = world["shop"].main_account
    request = services.request_livestream_access(livestream=world["stream"], actor=main)
    services.approve_livestream_request(request=request, actor=world["creator"].user)
    services.revoke_livestream_access(request=request, actor=world["creator"].user)
    assert list(Message.objects.filter(kind="livestream_access_revoked").values_list("recipient_id", flat=True)) == [
        main.pk
    ]


def test_decline_keeps_its_reason_for_the_organization(world):
    request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    declined = services.decline_livestream_request(request=request, actor=world["creator"].user, reason=" 数据未完整 ")
    assert (declined.status, declined.reason) == (RequestStatus.DECLINED, "数据未完整")
    message = Message.objects.get(kind="livestream_request_declined", recipient=world["staff"])
    assert message.params["reason"] == "数据未完整"
    assert "数据未完整" in message.text


def test_a_reason_over_200_characters_is_refused(world):
    request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    with pytest.raises(ValidationError) as excinfo:
        services.decline_livestream_request(request=request, actor=world["creator"].user, reason="长" * 201)
    assert error_codes(excinfo.value) == {"max_length"}
    assert LivestreamAccessRequest.objects.get().status == RequestStatus.PENDING


def test_a_request_pending_for_more_than_7_days_expires_and_may_be_made_again(world, frozen_today):
    request = services.request_livestream_access(livestream=world["stream"], actor=world["staff"])
    frozen_today.move_to(at_shanghai(TODAY) + datetime.timedelta(days=7))
    assert LivestreamAccessRequest.objects.get().status == RequestStatus.PENDING
    # The same member asks again: the pending one is returned.
    assert services.request_livestream_access(livestream=world["stream"], actor=world["staff"]).pk == request.pk
    frozen_today.move_to(at_shanghai(TODAY) + datetime.timedelta(days=7, microseconds=1))
    expired = LivestreamAccessRequest.objects.get()
    assert (expired.status, expired.get_status_display(), expired.can_decide()) == ("expired", "过期未处理", False)
    for decide in (services.approve_livestream_request, services.decline_livestream_request):
        with pytest.raises(ValidationError) as excinfo:
            decide(request=expired, actor=world["creator"].user)
        assert error_codes(excinfo.value) == {"request_expired"}
    # Not open any more: the detail page offers 解锁更多数据 again, and asking makes a new request.
    assert not LivestreamAccessRequest.objects.open().exists()
    again = services.request_livestream_access(livestream=world["stream"], actor=world["shop"].main_account)
    assert again.pk != request.pk
    stored = dict(LivestreamAccessRequest.objects.values_list("pk", "status"))
    assert stored == {request.pk: "expired", again.pk: "pending"}
    assert events() == ["request", "request"]
