"""Scopes and delegation (SPEC §12): the services, the one door's answers, and the pages."""

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from grants import access, services
from grants.factories import GrantFactory
from grants.models import FULL_SCOPE, Delegation, DelegationEvent, GrantEvent, scope_of
from livestreams.factories import LivestreamFactory
from notifications.models import Message
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory
from portal.models import Membership

from .conftest import at_shanghai, d, error_codes

pytestmark = pytest.mark.django_db

MODULE_PAGES = ("livestreams:big_screen", "livestreams:traffic", "livestreams:audience")


def normalized(response, url: str) -> bytes:
    body = re.sub(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', rb"\1", response.content)
    return body.replace(url.encode(), b"<url>")


def codes(excinfo) -> set[str]:
    return error_codes(excinfo.value)


@pytest.fixture
def world(frozen_today):
    creator = CreatorFactory()
    shop = ShopFactory()
    staff = SubAccountFactory(organization=shop)
    grant = services.authorize(creator=creator, organization=shop, starts_on=d(0), ends_on=d(30), actor=creator.user)
    stream = LivestreamFactory(creator=creator, cooperating=[ShopFactory()], minutes=0)
    return {"creator": creator, "shop": shop, "staff": staff, "grant": grant, "stream": stream}


def pages(creator, stream):
    return {
        "overview": reverse("livestreams:creator_overview", args=[creator.pk]),
        "livestreams": reverse("livestreams:creator_livestreams", args=[creator.pk]),
        "csv": reverse("livestreams:creator_export", args=[creator.pk]),
        "detail": reverse("livestreams:detail", args=[stream.pk]),
        **{name: reverse(name, args=[stream.pk]) for name in MODULE_PAGES},
    }


# --- services ------------------------------------------------------------------------------------


def test_authorize_defaults_to_every_part_and_records_the_scope(world):
    grant = world["grant"]
    assert grant.scope == FULL_SCOPE
    assert grant.events.get().scope_after == FULL_SCOPE


def test_authorize_with_an_empty_scope_is_refused(world):
    creator = world["creator"]
    with pytest.raises(ValidationError) as excinfo:
        services.authorize(
            creator=creator, organization=ShopFactory(), starts_on=d(0), ends_on=d(3), actor=creator.user, scope=[]
        )
    assert codes(excinfo) == {"empty_scope"}


def test_change_scope_records_before_and_after_and_tells_the_main_account(world):
    grant = world["grant"]
    services.change_scope(grant=grant, scope=["overview"], actor=world["creator"].user)
    event = grant.events.get(operation=GrantEvent.Operation.CHANGE_SCOPE)
    assert (event.scope_before, event.scope_after) == (FULL_SCOPE, scope_of(["overview"]))
    message = Message.objects.filter(recipient=world["shop"].main_account, kind="grant_changed").latest("pk")
    assert message.params["operation"] == "change_scope"


def test_change_scope_refused_empty_and_on_an_expired_grant(world, frozen_today):
    grant, user = world["grant"], world["creator"].user
    with pytest.raises(ValidationError) as excinfo:
        services.change_scope(grant=grant, scope=[], actor=user)
    assert codes(excinfo) == {"empty_scope"}
    expired = GrantFactory(creator=world["creator"], expired=True)
    with pytest.raises(ValidationError) as excinfo:
        services.change_scope(grant=expired, scope=["overview"], actor=user)
    assert codes(excinfo) == {"not_changeable"}
    with pytest.raises(PermissionDenied):
        services.change_scope(grant=grant, scope=["overview"], actor=world["shop"].main_account)


def test_renewal_keeps_the_scope(world):
    grant, user = world["grant"], world["creator"].user
    services.change_scope(grant=grant, scope=["overview", "modules"], actor=user)
    grant = services.renew_early(grant=grant, ends_on=d(60), actor=user)
    grant.refresh_from_db()
    assert grant.parts == {"overview", "modules"}


def test_approving_an_extension_keeps_the_scope_unless_changed(world):
    grant, main, user = world["grant"], world["shop"].main_account, world["creator"].user
    services.change_scope(grant=grant, scope=["overview"], actor=user)
    extension = services.request_extension(grant=grant, ends_on=d(40), actor=main)
    services.approve_grant_request(request=extension, actor=user)
    grant.refresh_from_db()
    assert grant.parts == {"overview"}
    extension = services.request_extension(grant=grant, ends_on=d(50), actor=main)
    services.approve_grant_request(request=extension, actor=user, scope=["overview", "products"])
    grant.refresh_from_db()
    assert grant.parts == {"overview", "products"}


def test_approving_a_full_data_request_with_a_scope(frozen_today):
    creator, shop = CreatorFactory(), ShopFactory()
    asked = services.request_grant(creator=creator, starts_on=d(0), ends_on=d(9), actor=shop.main_account)
    grant = services.approve_grant_request(request=asked, actor=creator.user, scope=["livestreams"])
    assert grant.parts == {"livestreams"}
    other = services.request_grant(creator=creator, starts_on=d(0), ends_on=d(9), actor=ShopFactory().main_account)
    with pytest.raises(ValidationError) as excinfo:
        services.approve_grant_request(request=other, actor=creator.user, scope=[])
    assert codes(excinfo) == {"empty_scope"}


def test_delegate_refusals(world):
    grant, main, staff = world["grant"], world["shop"].main_account, world["staff"]
    with pytest.raises(ValidationError) as excinfo:
        services.delegate(grant=grant, sub_account=SubAccountFactory(), ends_on=d(5), actor=main)
    assert codes(excinfo) == {"not_a_sub_account"}
    with pytest.raises(ValidationError) as excinfo:
        services.delegate(grant=grant, sub_account=main, ends_on=d(5), actor=main)
    assert codes(excinfo) == {"not_a_sub_account"}
    with pytest.raises(ValidationError) as excinfo:
        services.delegate(grant=grant, sub_account=staff, ends_on=d(31), actor=main)
    assert codes(excinfo) == {"beyond_grant"}
    services.change_scope(grant=grant, scope=["overview"], actor=world["creator"].user)
    with pytest.raises(ValidationError) as excinfo:
        services.delegate(grant=grant, sub_account=staff, ends_on=d(30), actor=main, scope=["overview", "products"])
    assert codes(excinfo) == {"beyond_grant"}
    with pytest.raises(ValidationError) as excinfo:
        services.delegate(grant=grant, sub_account=staff, ends_on=d(5), actor=main, scope=[])
    assert codes(excinfo) == {"empty_scope"}
    with pytest.raises(PermissionDenied):
        services.delegate(grant=grant, sub_account=staff, ends_on=d(5), actor=staff)
    services.set_delegation_allowed(grant=grant, allowed=False, actor=world["creator"].user)
    with pytest.raises(ValidationError) as excinfo:
        services.delegate(grant=grant, sub_account=staff, ends_on=d(5), actor=main)
    assert codes(excinfo) == {"delegation_forbidden"}
    assert not Delegation.objects.exists()


def test_delegation_on_the_grants_last_day_is_allowed_and_one_day_later_refused(world):
    grant, main, staff = world["grant"], world["shop"].main_account, world["staff"]
    delegation = services.delegate(grant=grant, sub_account=staff, ends_on=grant.ends_on, actor=main)
    assert delegation.scope == grant.scope
    assert delegation.events.get().operation == DelegationEvent.Operation.DELEGATE
    with pytest.raises(ValidationError) as excinfo:  # one open delegation per sub-account and grant
        services.delegate(grant=grant, sub_account=staff, ends_on=d(3), actor=main)
    assert codes(excinfo) == {"already_delegated"}
    assert Message.objects.filter(recipient=staff, kind="delegation_changed").count() == 1


# --- the one door ----------------------------------------------------------------------------------


def test_delegate_sees_the_delegated_parts_only(world, frozen_today):
    grant, main, staff, creator = world["grant"], world["shop"].main_account, world["staff"], world["creator"]
    assert not access.creator_access(staff, creator)
    delegation = services.delegate(grant=grant, sub_account=staff, ends_on=d(5), actor=main, scope=["overview"])
    answer = access.creator_access(staff, creator)
    assert answer.parts == {"overview"}
    assert answer.authority == delegation
    assert answer.ends_on == d(5)
    assert access.creator_access(staff, creator.pk).parts == {"overview"}
    frozen_today.move_to(at_shanghai(d(5), 23, 59, 59, 999999))
    assert access.creator_access(staff, creator).parts == {"overview"}  # the last day, its last moment
    frozen_today.move_to(at_shanghai(d(6), 0, 0, 0))
    assert not access.creator_access(staff, creator)  # midnight, Asia/Shanghai: the first day after


@pytest.mark.parametrize("how", ["revoke", "narrow", "forbid", "end", "moved", "promoted"])
def test_a_delegation_ends_with_its_grant_or_its_sub_account(world, how):
    grant, main, staff, creator = world["grant"], world["shop"].main_account, world["staff"], world["creator"]
    delegation = services.delegate(
        grant=grant, sub_account=staff, ends_on=d(10), actor=main, scope=["overview", "livestreams"]
    )
    assert access.creator_access(staff, creator).parts == {"overview", "livestreams"}
    if how == "revoke":
        services.revoke(grant=grant, actor=creator.user)
    elif how == "narrow":
        services.change_scope(grant=grant, scope=["products"], actor=creator.user)
    elif how == "forbid":
        services.set_delegation_allowed(grant=grant, allowed=False, actor=creator.user)
        assert delegation.events.filter(operation=DelegationEvent.Operation.FORBIDDEN).exists()
        assert grant.events.filter(operation=GrantEvent.Operation.FORBID_DELEGATION).exists()
    elif how == "end":
        services.end_delegation(delegation=delegation, actor=main)
    elif how == "moved":
        Membership.objects.filter(user=staff).update(organization=ShopFactory())
    elif how == "promoted":  # the sub-account becomes another organization's main account
        other = ShopFactory()
        Membership.objects.filter(organization=other).delete()
        Membership.objects.filter(user=staff).update(organization=other, role=Membership.Role.MAIN)
    staff = type(staff).objects.get(pk=staff.pk)
    assert not access.creator_access(staff, creator)
    assert not access.creator_access(staff, creator.pk)
    assert not access.livestream_access(staff, world["stream"]).detail


def test_narrowing_leaves_the_parts_both_scopes_share(world):
    grant, main, staff, creator = world["grant"], world["shop"].main_account, world["staff"], world["creator"]
    services.delegate(grant=grant, sub_account=staff, ends_on=d(10), actor=main, scope=["overview", "livestreams"])
    services.change_scope(grant=grant, scope=["overview", "modules"], actor=creator.user)
    assert access.creator_access(staff, creator).parts == {"overview"}
    assert not access.livestream_access(staff, world["stream"]).modules


def test_a_scheduled_grants_delegation_waits_for_the_grant(frozen_today):
    grant = GrantFactory(scheduled=True)
    staff = SubAccountFactory(organization=grant.organization)
    services.delegate(grant=grant, sub_account=staff, ends_on=grant.ends_on, actor=grant.organization.main_account)
    assert not access.creator_access(staff, grant.creator)
    frozen_today.move_to(at_shanghai(d(5), 0, 0, 0))
    assert access.creator_access(staff, grant.creator).parts == set(access.PARTS)


def test_the_access_decision_of_a_delegate_is_one_query(world, django_assert_num_queries):
    grant, main, creator = world["grant"], world["shop"].main_account, world["creator"]
    services.delegate(grant=grant, sub_account=world["staff"], ends_on=d(10), actor=main)
    loaded = type(main).objects.select_related("membership", "creator").get(pk=world["staff"].pk)
    bare = type(main).objects.get(pk=world["staff"].pk)
    for user, asked in ((loaded, creator.pk), (loaded, creator), (bare, creator)):
        with django_assert_num_queries(1):
            assert access.creator_access(user, asked).parts == set(access.PARTS)
    for user in (loaded, bare):
        with django_assert_num_queries(1):
            assert access.livestream_access(user, world["stream"]).modules


def test_switchable_offers_delegated_creators(world):
    services.delegate(grant=world["grant"], sub_account=world["staff"], ends_on=d(10), actor=world["shop"].main_account)
    offered = access.switchable(world["staff"], 12)
    assert [answer.creator for answer in offered] == [world["creator"]]
    assert access.switchable(SubAccountFactory(organization=world["shop"]), 12) == []


# --- the pages: the "done when" ----------------------------------------------------------


def test_overview_only_main_account_gets_the_overview_and_nothing_else(client, world):
    creator, main = world["creator"], world["shop"].main_account
    services.change_scope(grant=world["grant"], scope=["overview"], actor=creator.user)
    client.force_login(main)
    urls = pages(creator, world["stream"])
    response = client.get(urls["overview"])
    assert response.status_code == 200
    html = response.content.decode()
    assert urls["livestreams"] not in html  # the navigation shows only pages in scope
    stranger = pages(CreatorFactory(), LivestreamFactory(minutes=0))
    for name in ("livestreams", "csv", "detail", *MODULE_PAGES):
        response, refused = client.get(urls[name]), client.get(stranger[name])
        assert response.status_code == refused.status_code == 404, name
        # exactly like a creator who granted nothing (the URL itself aside)
        assert normalized(response, urls[name]) == normalized(refused, stranger[name]), name


def test_main_account_without_modules_in_scope_gets_them_only_through_an_approved_request(client, world):
    creator, main = world["creator"], world["shop"].main_account
    services.change_scope(grant=world["grant"], scope=["overview", "livestreams"], actor=creator.user)
    stream = world["stream"]
    answer = access.livestream_access(main, stream)
    assert answer.detail
    assert not answer.modules
    client.force_login(main)
    assert client.get(reverse("livestreams:traffic", args=[stream.pk])).status_code == 404
    assert client.get(reverse("livestreams:creator_export", args=[creator.pk])).status_code == 200


def test_shop_staff_reads_what_was_delegated_and_nothing_more(client, world):
    creator, main, staff = world["creator"], world["shop"].main_account, world["staff"]
    services.delegate(
        grant=world["grant"], sub_account=staff, ends_on=d(30), actor=main, scope=["overview", "livestreams"]
    )
    client.force_login(staff)
    urls = pages(creator, world["stream"])
    for name in ("overview", "livestreams", "csv", "detail"):
        assert client.get(urls[name]).status_code == 200, name
    for name in MODULE_PAGES:
        assert client.get(urls[name]).status_code == 404, name
    menu = client.get(reverse("grants:perspective_menu"), HTTP_HX_REQUEST="true").content.decode()
    assert f'value="{creator.pk}"' in menu
    response = client.post(reverse("grants:switch_perspective"), {"creator": creator.pk})
    assert response.url == urls["overview"]


@pytest.mark.parametrize("how", ["revoke", "forbid"])
def test_revoking_or_forbidding_ends_the_delegation_on_the_next_request(client, world, how):
    creator, main, staff = world["creator"], world["shop"].main_account, world["staff"]
    services.delegate(grant=world["grant"], sub_account=staff, ends_on=d(30), actor=main)
    client.force_login(staff)
    url = reverse("livestreams:creator_overview", args=[creator.pk])
    assert client.get(url).status_code == 200
    if how == "revoke":
        services.revoke(grant=world["grant"], actor=creator.user)
    else:
        services.set_delegation_allowed(grant=world["grant"], allowed=False, actor=creator.user)
    assert client.get(url).status_code in (302, 404)
    assert client.get(url).status_code == 404
    assert Message.objects.filter(recipient=staff).exists()


def test_main_account_manages_delegations_on_the_grant_page(client, world):
    grant, main, staff = world["grant"], world["shop"].main_account, world["staff"]
    client.force_login(main)
    page = reverse("grants:grant_detail", args=[grant.pk])
    html = client.get(page).content.decode()
    assert "子账号授权" in html
    assert f'value="{staff.pk}"' in html
    response = client.post(
        reverse("grants:delegate", args=[grant.pk]),
        {"sub_account": staff.pk, "ends_on": d(5).isoformat(), "scope": ["overview"], "scope_shown": "1"},
    )
    assert response.status_code == 302
    delegation = Delegation.objects.get()
    assert delegation.parts == {"overview"}
    assert f"delegation-{delegation.pk}" in client.get(page).content.decode()
    response = client.post(
        reverse("grants:delegate", args=[grant.pk]),
        {"sub_account": staff.pk, "ends_on": d(31).isoformat(), "scope": ["overview"], "scope_shown": "1"},
    )
    assert response.status_code == 422
    assert client.post(reverse("grants:end_delegation", args=[delegation.pk])).status_code == 302
    delegation.refresh_from_db()
    assert delegation.ended_at is not None
    client.force_login(staff)  # a sub-account cannot delegate or end
    assert client.post(reverse("grants:end_delegation", args=[delegation.pk])).status_code == 403
    client.force_login(ShopFactory().main_account)  # another organization's main account
    assert client.post(reverse("grants:end_delegation", args=[delegation.pk])).status_code == 404


def test_creator_changes_the_scope_and_forbids_delegation_on_the_grant_page(client, world):
    grant, creator = world["grant"], world["creator"]
    services.delegate(grant=grant, sub_account=world["staff"], ends_on=d(5), actor=world["shop"].main_account)
    client.force_login(creator.user)
    page = reverse("grants:grant_detail", args=[grant.pk])
    html = client.get(page).content.decode()
    assert 'name="scope"' in html
    assert world["staff"].username in html
    response = client.post(reverse("grants:change_scope", args=[grant.pk]), {"scope_shown": "1"})
    assert response.status_code == 422
    response = client.post(
        reverse("grants:change_scope", args=[grant.pk]), {"scope": ["overview", "products"], "scope_shown": "1"}
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.parts == {"overview", "products"}
    assert client.post(reverse("grants:set_delegation_allowed", args=[grant.pk]), {"allowed": "0"}).status_code == 302
    grant.refresh_from_db()
    assert not grant.delegation_allowed
    assert not Delegation.objects.filter(ended_at__isnull=True).exists()


def test_authorize_form_shows_the_scope_and_refuses_none(client, world):
    creator = world["creator"]
    client.force_login(creator.user)
    html = client.get(reverse("grants:authorize")).content.decode()
    assert html.count('name="scope"') == 4
    other = ShopFactory()
    data = {"organization": other.pk, "starts_on": d(0).isoformat(), "ends_on": d(5).isoformat(), "scope_shown": "1"}
    assert client.post(reverse("grants:authorize"), data).status_code == 422
    assert client.post(reverse("grants:authorize"), {**data, "scope": ["overview"]}).status_code == 302
    assert other.grants.get().parts == {"overview"}


def test_both_lists_show_the_scope(client, world):
    services.change_scope(grant=world["grant"], scope=["livestreams"], actor=world["creator"].user)
    client.force_login(world["creator"].user)
    assert "直播列表" in client.get(reverse("grants:creator_grants")).content.decode()
    client.force_login(world["shop"].main_account)
    html = client.get(reverse("grants:org_home")).content.decode()
    assert '<span class="scope-badges">直播列表</span>' in html


@pytest.mark.parametrize("who", ["main", "creator"])
def test_the_grant_page_costs_the_same_queries_whatever_the_delegations(client, world, who):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    grant, main = world["grant"], world["shop"].main_account
    client.force_login(main if who == "main" else world["creator"].user)
    url = reverse("grants:grant_detail", args=[grant.pk])
    counts = []
    for _ in range(2):
        for _ in range(3):
            staff = SubAccountFactory(organization=world["shop"])
            delegation = services.delegate(grant=grant, sub_account=staff, ends_on=d(5), actor=main)
            services.end_delegation(delegation=delegation, actor=main)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_the_approval_dialog_shows_the_scope_and_approves_with_it(client, frozen_today):
    creator, shop = CreatorFactory(), ShopFactory()
    asked = services.request_grant(creator=creator, starts_on=d(0), ends_on=d(9), actor=shop.main_account)
    client.force_login(creator.user)
    url = reverse("grants:approve_grant_request", args=[asked.pk])
    html = client.get(url).content.decode()
    assert html.count('name="scope"') == 4
    assert html.count(" checked") >= 4  # every part, unless the creator unticks some
    data = {"starts_on": d(0).isoformat(), "ends_on": d(9).isoformat(), "scope_shown": "1"}
    assert client.post(url, data).status_code == 422  # none ticked: empty_scope
    assert client.post(url, {**data, "scope": ["overview", "modules"]}).status_code == 302
    assert shop.grants.get().parts == {"overview", "modules"}


def test_a_sub_account_sees_its_delegations_on_its_personal_center(client, world):
    grant, main, staff = world["grant"], world["shop"].main_account, world["staff"]
    client.force_login(staff)
    assert f'id="delegated-{world["creator"].pk}"' not in client.get(reverse("grants:org_home")).content.decode()
    services.delegate(grant=grant, sub_account=staff, ends_on=d(7), actor=main, scope=["livestreams", "overview"])
    html = client.get(reverse("grants:org_home")).content.decode()
    assert f'id="delegated-{world["creator"].pk}"' in html
    assert "数据概览、直播列表" in html
