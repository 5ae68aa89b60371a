"""Full-data and extension requests (SPEC §9): every rule at its boundary, every refusal by its code,
the history and the messages each one writes."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from grants import services
from grants.factories import GrantFactory, GrantRequestFactory
from grants.models import Grant, GrantEvent, GrantRequest, GrantRequestEvent, GrantStatus
from notifications.models import Message
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

from .conftest import TODAY, at_shanghai, d, error_codes

pytestmark = pytest.mark.django_db


def codes(excinfo) -> set[str]:
    return error_codes(excinfo.value)


def snapshot():
    return [
        list(model.objects.order_by("pk").values())
        for model in (Grant, GrantEvent, GrantRequest, GrantRequestEvent, Message)
    ]


@pytest.fixture
def pair(frozen_today):
    creator, shop = CreatorFactory(), ShopFactory()
    return creator, shop, shop.main_account


def ask(creator, main, start=0, end=30, **kwargs):
    return services.request_grant(creator=creator, starts_on=d(start), ends_on=d(end), actor=main, **kwargs)


# --- request_grant ----------------------------------------------------------------------------


def test_request_grant_writes_the_request_its_event_and_tells_the_creator(pair):
    creator, shop, main = pair
    grant_request = ask(creator, main, 1, 90, message="  希望合作  ")
    assert (grant_request.kind, grant_request.status, grant_request.organization) == ("grant", "pending", shop)
    assert (grant_request.starts_on, grant_request.ends_on, grant_request.message) == (d(1), d(90), "希望合作")
    event = grant_request.events.get()
    assert (event.operation, event.actor, event.starts_on, event.ends_on) == ("request", main, d(1), d(90))
    message = Message.objects.get()
    assert (message.recipient, message.kind) == (creator.user, "grant_request_received")
    assert message.params["organization"] == shop.name
    assert message.link == f"/grants/requests/{grant_request.pk}/"


@pytest.mark.parametrize("who", ["sub", "creator", "other_creator"])
def test_only_a_main_account_may_request(pair, who):
    creator, shop, _main = pair
    actor = {
        "sub": SubAccountFactory(organization=shop),
        "creator": creator.user,
        "other_creator": CreatorFactory().user,
    }
    before = snapshot()
    with pytest.raises(PermissionDenied):
        ask(creator, actor[who])
    assert snapshot() == before


@pytest.mark.parametrize("trait", [{}, {"scheduled": True}, {"expired": True}])
def test_request_refused_while_the_creator_could_not_authorize(pair, trait):
    creator, shop, main = pair
    GrantFactory(creator=creator, organization=shop, **trait)
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        ask(creator, main)
    assert codes(excinfo) == {"already_granted"}
    assert snapshot() == before


def test_request_allowed_when_the_only_grant_was_revoked(pair):
    creator, shop, main = pair
    GrantFactory(creator=creator, organization=shop, revoked=True)
    assert ask(creator, main).status == "pending"


def test_second_request_while_pending_is_refused(pair):
    creator, _shop, main = pair
    ask(creator, main)
    with pytest.raises(ValidationError) as excinfo:
        ask(creator, main, 2, 40)
    assert codes(excinfo) == {"pending_exists"}
    assert GrantRequest.objects.count() == 1


def test_one_pending_request_per_kind_is_enforced_by_the_database(pair):
    creator, shop, _main = pair
    GrantRequestFactory(creator=creator, organization=shop)
    with pytest.raises(IntegrityError), transaction.atomic():
        GrantRequestFactory(creator=creator, organization=shop)


def test_ask_again_only_7_days_after_a_decline(pair, frozen_today):
    creator, _shop, main = pair
    services.decline_grant_request(request=ask(creator, main), actor=creator.user)
    frozen_today.move_to(at_shanghai(TODAY) + datetime.timedelta(days=7, microseconds=-1))
    with pytest.raises(ValidationError) as excinfo:
        ask(creator, main, 7, 30)
    assert codes(excinfo) == {"too_soon"}
    frozen_today.move_to(at_shanghai(TODAY) + datetime.timedelta(days=7))
    assert ask(creator, main, 7, 30).status == "pending"


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [(-1, 10, "starts_in_past"), (5, 4, "ends_before_start"), (0, 366, "period_too_long"), (3, 369, "period_too_long")],
)
def test_the_proposed_period_is_checked(pair, start, end, code):
    creator, _shop, main = pair
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        ask(creator, main, start, end)
    assert codes(excinfo) == {code}
    assert snapshot() == before


def test_366_days_and_a_200_character_message_are_allowed(pair):
    creator, _shop, main = pair
    grant_request = ask(creator, main, 0, 365, message="字" * 200)
    assert grant_request.period_days == 366


def test_a_201_character_message_is_refused(pair):
    creator, _shop, main = pair
    with pytest.raises(ValidationError) as excinfo:
        ask(creator, main, message="字" * 201)
    assert codes(excinfo) == {"max_length"}


def test_an_expired_request_is_closed_and_a_new_one_made(pair, frozen_today):
    creator, _shop, main = pair
    old = ask(creator, main, 0, 30)
    frozen_today.move_to(at_shanghai(TODAY) + datetime.timedelta(days=7, seconds=1))
    assert GrantRequest.objects.get(pk=old.pk).status == "expired"
    new = ask(creator, main, 7, 30)
    assert new.pk != old.pk
    stored = dict(GrantRequest.objects.values_list("pk", "status"))
    assert stored == {old.pk: "expired", new.pk: "pending"}
    # Closing the expired one is no decision: no event of its own.
    assert list(old.events.values_list("operation", flat=True)) == ["request"]


# --- request_extension -----------------------------------------------------------------------


@pytest.fixture
def granted(pair):
    creator, shop, main = pair
    return GrantFactory(creator=creator, organization=shop), main  # d(-10) .. d(30)


def test_extension_of_an_active_grant_proposes_a_new_end(granted):
    grant, main = granted
    grant_request = services.request_extension(grant=grant, ends_on=d(31), starts_on=d(3), actor=main)
    assert (grant_request.kind, grant_request.grant, grant_request.starts_on, grant_request.ends_on) == (
        "extension",
        grant,
        None,  # a live grant's renewal starts the day after approval
        d(31),
    )
    assert Message.objects.get().recipient == grant.creator.user


@pytest.mark.parametrize(("end", "code"), [(30, "end_not_later"), (29, "end_not_later"), (30 + 367, "period_too_long")])
def test_extension_of_an_active_grant_refused(granted, end, code):
    grant, main = granted
    with pytest.raises(ValidationError) as excinfo:
        services.request_extension(grant=grant, ends_on=d(end), actor=main)
    assert codes(excinfo) == {code}


def test_extension_by_366_days_is_allowed(granted):
    grant, main = granted
    assert services.request_extension(grant=grant, ends_on=d(30 + 366), actor=main).ends_on == d(396)


def test_extension_of_an_expired_grant_proposes_a_period_from_today(pair):
    creator, shop, main = pair
    grant = GrantFactory(creator=creator, organization=shop, expired=True)
    grant_request = services.request_extension(grant=grant, ends_on=d(20), actor=main)
    assert (grant_request.starts_on, grant_request.ends_on) == (d(0), d(20))
    with pytest.raises(ValidationError) as excinfo:
        services.request_extension(grant=grant, starts_on=d(-1), ends_on=d(20), actor=main)
    assert codes(excinfo) == {"pending_exists"}


@pytest.mark.parametrize(("start", "end", "code"), [(-1, 20, "starts_in_past"), (5, 4, "ends_before_start")])
def test_extension_of_an_expired_grant_checks_the_period(pair, start, end, code):
    creator, shop, main = pair
    grant = GrantFactory(creator=creator, organization=shop, expired=True)
    with pytest.raises(ValidationError) as excinfo:
        services.request_extension(grant=grant, starts_on=d(start), ends_on=d(end), actor=main)
    assert codes(excinfo) == {code}


def test_extension_of_a_revoked_grant_is_refused(pair):
    creator, shop, main = pair
    grant = GrantFactory(creator=creator, organization=shop, revoked=True)
    with pytest.raises(ValidationError) as excinfo:
        services.request_extension(grant=grant, ends_on=d(90), actor=main)
    assert codes(excinfo) == {"not_extendable"}


def test_extension_only_by_the_grants_own_main_account(granted):
    grant, _main = granted
    for actor in (ShopFactory().main_account, SubAccountFactory(organization=grant.organization), grant.creator.user):
        with pytest.raises(PermissionDenied):
            services.request_extension(grant=grant, ends_on=d(60), actor=actor)
    assert GrantRequest.objects.count() == 0


def test_a_full_data_and_an_extension_request_may_both_be_pending(pair):
    """One pending request per (creator, organization, kind): the kinds do not block each other."""
    creator, shop, main = pair
    revoked = GrantFactory(creator=creator, organization=shop, revoked=True)
    ask(creator, main)
    GrantRequestFactory(creator=creator, organization=shop, kind="extension", grant=revoked, starts_on=None)
    assert GrantRequest.objects.pending().count() == 2


# --- approve_grant_request ----------------------------------------------------------------------


def test_approving_a_full_data_request_authorizes_with_the_proposed_period(pair):
    creator, shop, main = pair
    grant_request = ask(creator, main, 0, 30)
    Message.objects.all().delete()
    grant = services.approve_grant_request(request=grant_request, actor=creator.user)
    assert (grant.organization, grant.starts_on, grant.ends_on, grant.status) == (shop, d(0), d(30), "active")
    assert list(grant.events.values_list("operation", flat=True)) == ["authorize"]
    grant_request.refresh_from_db()
    assert (grant_request.status, grant_request.grant, grant_request.decided_by) == ("approved", grant, creator.user)
    event = grant_request.events.latest("pk")
    assert (event.operation, event.starts_on, event.ends_on) == ("approve", d(0), d(30))
    # One message, the approval (not also "authorized").
    message = Message.objects.get()
    assert (message.recipient, message.kind, message.params["ends_on"]) == (
        main,
        "grant_request_approved",
        "2026-12-28",
    )


def test_approving_with_an_edited_period(pair):
    creator, _shop, main = pair
    grant = services.approve_grant_request(
        request=ask(creator, main, 0, 30), actor=creator.user, starts_on=d(2), ends_on=d(9)
    )
    assert (grant.starts_on, grant.ends_on) == (d(2), d(9))


def test_a_proposal_whose_start_has_passed_must_be_edited(pair, frozen_today):
    creator, _shop, main = pair
    grant_request = ask(creator, main, 0, 30)
    frozen_today.move_to(at_shanghai(d(1)))
    before = snapshot()
    with pytest.raises(ValidationError) as excinfo:
        services.approve_grant_request(request=grant_request, actor=creator.user)
    assert codes(excinfo) == {"starts_in_past"}
    assert snapshot() == before
    grant = services.approve_grant_request(request=grant_request, actor=creator.user, starts_on=d(1))
    assert (grant.starts_on, grant.ends_on) == (d(1), d(30))


def test_approving_refused_when_the_organization_was_authorized_meanwhile(pair):
    creator, shop, main = pair
    grant_request = ask(creator, main)
    services.authorize(creator=creator, organization=shop, starts_on=d(0), ends_on=d(5), actor=creator.user)
    with pytest.raises(ValidationError) as excinfo:
        services.approve_grant_request(request=grant_request, actor=creator.user)
    assert codes(excinfo) == {"already_granted"}
    assert GrantRequest.objects.get().status == "pending"


def test_approving_an_extension_of_an_active_grant_renews_it_early(granted):
    grant, main = granted
    grant_request = services.request_extension(grant=grant, ends_on=d(60), actor=main)
    renewed = services.approve_grant_request(request=grant_request, actor=grant.creator.user)
    assert (renewed.pk, renewed.starts_on, renewed.ends_on) == (grant.pk, d(-10), d(60))
    event = renewed.events.latest("pk")
    assert (event.operation, event.renewal_starts_on) == ("renew_early", d(1))


def test_approving_an_extension_whose_grant_expired_meanwhile_renews_it(pair, frozen_today):
    creator, shop, main = pair
    grant = GrantFactory(creator=creator, organization=shop, starts_on=d(-5), ends_on=d(1))
    grant_request = services.request_extension(grant=grant, ends_on=d(20), actor=main)
    frozen_today.move_to(at_shanghai(d(2)))
    renewed = services.approve_grant_request(request=grant_request, actor=creator.user)
    assert (renewed.starts_on, renewed.ends_on, renewed.status) == (d(2), d(20), GrantStatus.ACTIVE)
    assert renewed.events.latest("pk").operation == "renew"


def test_approving_an_extension_of_a_revoked_grant_is_refused(granted):
    grant, main = granted
    grant_request = services.request_extension(grant=grant, ends_on=d(60), actor=main)
    services.revoke(grant=grant, actor=grant.creator.user)
    with pytest.raises(ValidationError) as excinfo:
        services.approve_grant_request(request=grant_request, actor=grant.creator.user)
    assert codes(excinfo) == {"not_extendable"}


def test_only_the_creator_asked_decides(pair):
    creator, shop, main = pair
    grant_request = ask(creator, main)
    for actor in (main, CreatorFactory().user, SubAccountFactory(organization=shop)):
        with pytest.raises(PermissionDenied):
            services.approve_grant_request(request=grant_request, actor=actor)
        with pytest.raises(PermissionDenied):
            services.decline_grant_request(request=grant_request, actor=actor)
    assert GrantRequest.objects.get().status == "pending"


def test_a_decided_request_cannot_be_decided_again(pair):
    creator, _shop, main = pair
    grant_request = ask(creator, main)
    services.decline_grant_request(request=grant_request, actor=creator.user)
    for decide in (services.approve_grant_request, services.decline_grant_request):
        with pytest.raises(ValidationError) as excinfo:
            decide(request=grant_request, actor=creator.user)
        assert codes(excinfo) == {"not_pending"}


def test_an_expired_request_cannot_be_decided(pair, frozen_today):
    creator, _shop, main = pair
    grant_request = ask(creator, main, 0, 60)
    frozen_today.move_to(at_shanghai(TODAY) + datetime.timedelta(days=7))
    assert GrantRequest.objects.get().status == "pending"  # exactly 7 days: still pending
    frozen_today.move_to(at_shanghai(TODAY) + datetime.timedelta(days=7, microseconds=1))
    before = snapshot()
    for decide in (services.approve_grant_request, services.decline_grant_request):
        with pytest.raises(ValidationError) as excinfo:
            decide(request=grant_request, actor=creator.user)
        assert codes(excinfo) == {"request_expired"}
    assert snapshot() == before


# --- decline_grant_request ----------------------------------------------------------------------


def test_declining_keeps_the_reason_and_tells_the_main_account(pair):
    creator, _shop, main = pair
    grant_request = services.decline_grant_request(request=ask(creator, main), actor=creator.user, reason=" 档期已满 ")
    assert (grant_request.status, grant_request.reason) == ("declined", "档期已满")
    assert grant_request.events.latest("pk").operation == "decline"
    message = Message.objects.filter(recipient=main).get()
    assert (message.kind, message.params["reason"]) == ("grant_request_declined", "档期已满")


def test_a_reason_of_201_characters_is_refused(pair):
    creator, _shop, main = pair
    grant_request = ask(creator, main)
    with pytest.raises(ValidationError) as excinfo:
        services.decline_grant_request(request=grant_request, actor=creator.user, reason="因" * 201)
    assert codes(excinfo) == {"max_length"}
    assert services.decline_grant_request(request=grant_request, actor=creator.user, reason="因" * 200).reason
