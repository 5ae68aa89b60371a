"""The authorization pages: full pages and HTMX fragments, inline errors, 403/404, CSRF, query counts."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse

from grants import services
from grants.factories import GrantFactory
from grants.models import Grant, GrantEvent, GrantStatus
from grants.perspective import SESSION_KEY
from livestreams.factories import LivestreamFactory
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory

from .conftest import d

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def login(client, user):
    client.force_login(user)
    return client


# --- creator list --------------------------------------------------------------------------


def test_creator_list_full_page_and_fragment(client, frozen_today):
    grant = GrantFactory()
    login(client, grant.creator.user)
    page = client.get(reverse("grants:creator_grants"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<html" in html
    assert grant.organization.name in html
    fragment = client.get(reverse("grants:creator_grants"), **HTMX).content.decode()
    assert "<html" not in fragment
    assert 'id="grant-list"' in fragment
    assert grant.organization.name in fragment


@pytest.mark.parametrize("rows", [1, 50])
def test_creator_list_query_count_is_fixed(client, frozen_today, django_assert_num_queries, rows):
    creator = CreatorFactory()
    for i in range(rows):
        GrantFactory(creator=creator, organization=ShopFactory() if i % 2 else AgencyFactory(), expired=i % 3 == 0)
    login(client, creator.user)
    # session, user (with party), the counts (status tabs, request tabs, both nav badges and the
    # bell, in one query), the page of rows
    with django_assert_num_queries(4):
        response = client.get(reverse("grants:creator_grants"))
    assert response.status_code == 200
    with django_assert_num_queries(4):
        client.get(reverse("grants:creator_grants"), {"status": "active", "q": "店", "page": 2})


def test_creator_list_filters_by_status_and_searches(client, frozen_today):
    creator = CreatorFactory()
    active = GrantFactory(creator=creator, organization=ShopFactory(name="甲乙旗舰店"))
    expired = GrantFactory(creator=creator, organization=AgencyFactory(name="丙丁传媒"), expired=True)
    login(client, creator.user)
    html = client.get(reverse("grants:creator_grants"), {"status": "expired"}).content.decode()
    assert expired.organization.name in html
    assert active.organization.name not in html
    html = client.get(reverse("grants:creator_grants"), {"q": "甲乙"}).content.decode()
    assert active.organization.name in html
    assert expired.organization.name not in html
    html = client.get(reverse("grants:creator_grants"), {"status": "bogus", "page": "x"}).content.decode()
    assert active.organization.name in html
    assert expired.organization.name in html


def test_creator_list_shows_nearest_expiry_first(client, frozen_today):
    creator = CreatorFactory()
    late = GrantFactory(creator=creator, organization=ShopFactory(name="晚到期店"), ends_on=d(50))
    soon = GrantFactory(creator=creator, organization=ShopFactory(name="早到期店"), ends_on=d(0))
    gone = GrantFactory(creator=creator, organization=ShopFactory(name="已过期店"), expired=True)
    login(client, creator.user)
    html = client.get(reverse("grants:creator_grants")).content.decode()
    positions = [html.index(g.organization.name) for g in (soon, late, gone)]
    assert positions == sorted(positions)
    assert "今天到期" in html


def test_member_cannot_open_creator_pages(client, frozen_today):
    shop = ShopFactory()
    for user in (shop.main_account, SubAccountFactory(organization=shop)):
        login(client, user)
        assert client.get(reverse("grants:creator_grants")).status_code == 403
        assert client.get(reverse("grants:authorize")).status_code == 403


# --- authorize -----------------------------------------------------------------------------


def test_authorize_plain_post_redirects_with_message(client, frozen_today):
    creator, shop = CreatorFactory(), ShopFactory()
    login(client, creator.user)
    response = client.post(
        reverse("grants:authorize"),
        {"organization": shop.pk, "starts_on": d(0).isoformat(), "ends_on": d(30).isoformat()},
    )
    assert response.status_code == 302
    assert response.url == reverse("grants:creator_grants")
    grant = Grant.objects.get()
    assert (grant.creator, grant.organization, grant.starts_on, grant.ends_on) == (creator, shop, d(0), d(30))
    assert "已授权" in client.get(response.url).content.decode()


def test_authorize_htmx_success_refreshes_list_and_closes_dialog(client, frozen_today):
    creator, shop = CreatorFactory(), ShopFactory(name="新授权店")
    login(client, creator.user)
    response = client.post(
        reverse("grants:authorize"),
        {"organization": shop.pk, "starts_on": d(0).isoformat(), "ends_on": d(30).isoformat()},
        HTTP_HX_CURRENT_URL="http://testserver/grants/?status=active",
        **HTMX,
    )
    assert response.status_code == 200
    assert "close-dialog" in response.headers["HX-Trigger"]
    html = response.content.decode()
    assert 'id="grant-list" hx-swap-oob="true"' in html
    assert "新授权店" in html
    assert "row-flash" in html
    assert 'id="messages"' in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"starts_on": "2026-11-27", "ends_on": "2026-12-30"}, "starts_on", "开始日期不能早于今天"),
        ({"starts_on": "2026-12-05", "ends_on": "2026-12-04"}, "ends_on", "截止日期不能早于开始日期"),
        ({"starts_on": "not-a-date", "ends_on": "2026-12-04"}, "starts_on", "请输入有效的日期"),
        ({"starts_on": "2026-12-01"}, "ends_on", "请选择日期"),
    ],
)
def test_authorize_inline_errors_write_nothing(client, frozen_today, data, field, message):
    creator, shop = CreatorFactory(), ShopFactory()
    login(client, creator.user)
    page = client.post(reverse("grants:authorize"), {"organization": shop.pk, **data})
    assert page.status_code == 422
    assert message in page.content.decode()
    response = client.post(reverse("grants:authorize"), {"organization": shop.pk, **data}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert "<html" not in html
    assert 'id="dialog-title"' in html
    assert Grant.objects.count() == 0
    assert GrantEvent.objects.count() == 0


def test_authorize_existing_grant_points_to_the_right_action(client, frozen_today):
    grant = GrantFactory(expired=True)
    login(client, grant.creator.user)
    response = client.post(
        reverse("grants:authorize"),
        {"organization": grant.organization.pk, "starts_on": d(0).isoformat(), "ends_on": d(3).isoformat()},
    )
    assert response.status_code == 422
    assert "请使用续约" in response.content.decode()
    assert Grant.objects.count() == 1


def test_authorize_unknown_organization_is_a_form_error(client, frozen_today):
    login(client, CreatorFactory().user)
    response = client.post(
        reverse("grants:authorize"), {"organization": 999999, "starts_on": "2026-11-28", "ends_on": "2026-11-29"}
    )
    assert response.status_code == 422
    assert "所选商家/机构不存在" in response.content.decode()


def test_organization_search_shows_kind_and_existing_grant(client, frozen_today):
    creator = CreatorFactory()
    free = ShopFactory(name="搜索测试甲店")
    held = GrantFactory(creator=creator, organization=AgencyFactory(name="搜索测试乙传媒"))
    ShopFactory(name="无关店")
    login(client, creator.user)
    html = client.get(reverse("grants:organization_search"), {"q": "搜索测试"}, **HTMX).content.decode()
    assert free.name in html
    assert held.organization.name in html
    assert "无关店" not in html
    assert f'value="{free.pk}"' in html
    assert f'value="{held.organization.pk}"' not in html  # not selectable: it has a grant
    assert reverse("grants:renew_early", args=[held.pk]) in html
    assert "机构" in html
    assert "商家" in html


def test_authorize_page_without_js_searches_with_get(client, frozen_today):
    login(client, CreatorFactory().user)
    shop = ShopFactory(name="无脚本搜索店")
    html = client.get(reverse("grants:authorize"), {"q": "无脚本", "ends_on": "2026-12-31"}).content.decode()
    assert "<html" in html
    assert f'value="{shop.pk}"' in html
    assert 'value="2026-12-31"' in html


# --- revoke / renew ------------------------------------------------------------------------


def test_revoke_confirm_page_then_post(client, frozen_today):
    grant = GrantFactory()
    login(client, grant.creator.user)
    confirm = client.get(reverse("grants:revoke", args=[grant.pk]))
    assert confirm.status_code == 200
    assert "确认解除" in confirm.content.decode()
    assert "<html" in confirm.content.decode()
    dialog = client.get(reverse("grants:revoke", args=[grant.pk]), **HTMX).content.decode()
    assert "<html" not in dialog
    assert "<form" in dialog
    assert 'hx-post="' in dialog
    grant.refresh_from_db()
    assert grant.revoked_at is None  # GET changes nothing
    response = client.post(reverse("grants:revoke", args=[grant.pk]))
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.status == GrantStatus.REVOKED


def test_revoke_twice_shows_error(client, frozen_today):
    grant = GrantFactory(revoked=True)
    login(client, grant.creator.user)
    response = client.post(reverse("grants:revoke", args=[grant.pk]), **HTMX)
    assert response.status_code == 200
    assert "只能解除待生效或生效中的授权" in response.content.decode()


def test_renew_early_form_shows_tomorrow_read_only_and_errors_inline(client, frozen_today):
    grant = GrantFactory(ends_on=d(10))
    login(client, grant.creator.user)
    html = client.get(reverse("grants:renew_early", args=[grant.pk])).content.decode()
    assert re.search(r'value="2026-11-29" readonly', html)
    response = client.post(reverse("grants:renew_early", args=[grant.pk]), {"ends_on": d(10).isoformat()}, **HTMX)
    assert response.status_code == 200
    assert "新的截止日期必须晚于当前截止日期" in response.content.decode()
    grant.refresh_from_db()
    assert grant.ends_on == d(10)
    response = client.post(reverse("grants:renew_early", args=[grant.pk]), {"ends_on": d(11).isoformat()})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.ends_on == d(11)


def test_renew_form(client, frozen_today):
    grant = GrantFactory(expired=True)
    login(client, grant.creator.user)
    response = client.post(
        reverse("grants:renew", args=[grant.pk]), {"starts_on": d(-1).isoformat(), "ends_on": d(3).isoformat()}
    )
    assert response.status_code == 422
    assert "开始日期不能早于今天" in response.content.decode()
    response = client.post(
        reverse("grants:renew", args=[grant.pk]), {"starts_on": d(0).isoformat(), "ends_on": d(3).isoformat()}
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.status == GrantStatus.ACTIVE


def test_next_parameter_must_be_local(client, frozen_today):
    grant = GrantFactory()
    login(client, grant.creator.user)
    response = client.post(reverse("grants:revoke", args=[grant.pk]), {"next": "https://evil.example/"})
    assert response.url == reverse("grants:creator_grants")


@pytest.mark.parametrize("name", ["revoke", "renew_early", "renew", "grant_detail"])
def test_other_creators_grant_is_404(client, frozen_today, name):
    grant = GrantFactory()
    login(client, CreatorFactory().user)
    url = reverse(f"grants:{name}", args=[grant.pk])
    assert client.get(url).status_code == 404
    if name != "grant_detail":
        assert client.post(url, {"ends_on": d(90).isoformat(), "starts_on": d(0).isoformat()}).status_code == 404
    missing = reverse(f"grants:{name}", args=[grant.pk + 1000])
    assert client.get(missing).status_code == 404
    grant.refresh_from_db()
    assert grant.revoked_at is None
    assert grant.ends_on == d(30)


@pytest.mark.parametrize("name", ["revoke", "renew_early", "renew"])
def test_members_acting_on_grants_are_403(client, frozen_today, name):
    grant = GrantFactory()
    for user in (grant.organization.main_account, SubAccountFactory(organization=grant.organization)):
        login(client, user)
        assert (
            client.post(reverse(f"grants:{name}", args=[grant.pk]), {"ends_on": d(90).isoformat()}).status_code == 403
        )
    grant.refresh_from_db()
    assert grant.revoked_at is None
    assert grant.ends_on == d(30)


def test_csrf_is_enforced_on_every_grant_post(frozen_today):
    grant = GrantFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(grant.creator.user)
    for url, data in [
        (
            reverse("grants:authorize"),
            {"organization": ShopFactory().pk, "starts_on": "2026-11-28", "ends_on": "2026-12-01"},
        ),
        (reverse("grants:renew_early", args=[grant.pk]), {"ends_on": "2027-12-01"}),
        (reverse("grants:revoke", args=[grant.pk]), {}),
    ]:
        assert client.post(url, data).status_code == 403
        assert client.post(url, data, **HTMX).status_code == 403
    grant.refresh_from_db()
    assert grant.revoked_at is None
    assert Grant.objects.count() == 1


def test_csrf_header_from_page_shell_is_accepted(frozen_today):
    grant = GrantFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(grant.creator.user)
    html = client.get(reverse("grants:creator_grants")).content.decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    response = client.post(reverse("grants:revoke", args=[grant.pk]), HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 204 or response.status_code == 200
    grant.refresh_from_db()
    assert grant.revoked_at is not None


# --- grant detail and history -----------------------------------------------------------------


def test_history_visible_to_creator_and_main_account_only(client, frozen_today):
    grant = GrantFactory(ends_on=d(5))
    from grants import services

    services.renew_early(grant=grant, ends_on=d(20), actor=grant.creator.user)
    url = reverse("grants:grant_detail", args=[grant.pk])
    for user in (grant.creator.user, grant.organization.main_account):
        html = login(client, user).get(url).content.decode()
        assert "提前续约" in html
        assert "2026-12-18" in html
        assert "2026-11-29" in html
    login(client, SubAccountFactory(organization=grant.organization))
    assert client.get(url).status_code == 404
    login(client, ShopFactory().main_account)
    assert client.get(url).status_code == 404


# --- organization: personal center ------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 50])
def test_org_home_lists_latest_grant_per_creator_with_fixed_queries(
    client, frozen_today, django_assert_num_queries, rows
):
    shop = ShopFactory()
    for i in range(rows):
        grant = GrantFactory(organization=shop, scheduled=i % 4 == 1, expired=i % 4 == 2, revoked=i % 4 == 3)
        if i % 4 == 0:
            services.request_extension(
                grant=grant, ends_on=grant.ends_on + datetime.timedelta(days=5), actor=shop.main_account
            )
            stream = LivestreamFactory(creator=grant.creator, cooperating=[shop], minutes=0)
            services.request_livestream_access(livestream=stream, actor=shop.main_account)
    login(client, shop.main_account)
    # session, user, org livestream requests and their history, counts (with the bell), rows, the
    # full-data and extension requests and their history (the switcher's menu is fetched when opened)
    with django_assert_num_queries(8):
        response = client.get(reverse("grants:org_home"))
    assert response.status_code == 200
    assert response.content.decode().count('id="creator-row-') == min(rows, 20)


def test_org_home_shows_one_row_per_creator_latest_grant(client, frozen_today):
    shop = ShopFactory()
    old = GrantFactory(organization=shop, revoked=True, starts_on=d(-50), ends_on=d(-40))
    new = GrantFactory(creator=old.creator, organization=shop, starts_on=d(0), ends_on=d(9))
    login(client, shop.main_account)
    html = client.get(reverse("grants:org_home")).content.decode()
    assert html.count(f'id="creator-row-{old.creator_id}"') == 1
    assert "2026-12-07" in html
    assert "2026-10-19" not in html
    assert new.status == "active"
    assert "查看数据" in html


def test_sub_account_sees_notice_and_no_grants(client, frozen_today):
    grant = GrantFactory()
    login(client, SubAccountFactory(organization=grant.organization))
    html = client.get(reverse("grants:org_home")).content.decode()
    assert "仅支持主账号查看" in html
    assert grant.creator.name not in html


# --- perspective ---------------------------------------------------------------------------------


def test_switch_perspective_with_active_grant(client, frozen_today):
    grant = GrantFactory(ends_on=d(12))
    login(client, grant.organization.main_account)
    response = client.post(reverse("grants:switch_perspective"), {"creator": grant.creator_id})
    assert response.url == reverse("livestreams:creator_overview", args=[grant.creator_id])
    assert client.session[SESSION_KEY] == grant.creator_id
    html = client.get(reverse("grants:org_home")).content.decode()
    assert "您正在以达人视角查看" in html
    assert grant.creator.name in html
    assert "2026-12-10" in html


@pytest.mark.parametrize("traits", [{"expired": True}, {"scheduled": True}, {"revoked": True}])
def test_switch_perspective_without_active_grant_is_404(client, frozen_today, traits):
    grant = GrantFactory(**traits)
    login(client, grant.organization.main_account)
    assert client.post(reverse("grants:switch_perspective"), {"creator": grant.creator_id}).status_code == 404
    assert SESSION_KEY not in client.session


def test_sub_account_without_a_delegation_cannot_switch(client, frozen_today):
    grant = GrantFactory()
    login(client, SubAccountFactory(organization=grant.organization))
    assert client.post(reverse("grants:switch_perspective"), {"creator": grant.creator_id}).status_code == 404
    assert SESSION_KEY not in client.session


def test_revoked_grant_falls_back_on_next_request(client, frozen_today):
    from grants import services

    grant = GrantFactory()
    login(client, grant.organization.main_account)
    client.post(reverse("grants:switch_perspective"), {"creator": grant.creator_id})
    services.revoke(grant=grant, actor=grant.creator.user)
    response = client.get(reverse("livestreams:creator_overview", args=[grant.creator_id]))
    assert response.status_code == 302
    assert response.url == reverse("grants:org_home")
    html = client.get(response.url).content.decode()
    assert "已切换回本机构视角" in html
    assert SESSION_KEY not in client.session
    assert client.get(reverse("livestreams:creator_overview", args=[grant.creator_id])).status_code == 404


def test_expiry_at_midnight_falls_back(client, frozen_today):
    from .conftest import at_shanghai

    grant = GrantFactory(ends_on=d(0))
    login(client, grant.organization.main_account)
    client.post(reverse("grants:switch_perspective"), {"creator": grant.creator_id})
    frozen_today.move_to(at_shanghai(d(0), 23, 59, 59))
    assert client.get(reverse("livestreams:creator_overview", args=[grant.creator_id])).status_code == 200
    frozen_today.move_to(at_shanghai(d(1), 0, 0, 0))
    assert client.get(reverse("livestreams:creator_overview", args=[grant.creator_id])).status_code == 302


def test_switcher_menu_lists_active_grants_when_opened(client, frozen_today, django_assert_num_queries):
    shop = ShopFactory()
    active = GrantFactory(organization=shop, creator=CreatorFactory(name="生效达人"))
    GrantFactory(organization=shop, creator=CreatorFactory(name="到期达人"), expired=True)
    client.force_login(shop.main_account)
    page = client.get(reverse("grants:org_home")).content.decode()
    assert 'hx-get="/perspective/menu/"' in page
    shell_menu = page.split('class="perspective-menu"')[1].split("</details>")[0]
    assert "生效达人" not in shell_menu  # the menu is fetched when opened
    assert 'href="/org/?status=active"' in shell_menu  # without JavaScript: a link to the creators
    with django_assert_num_queries(3):  # session, user, the options
        menu = client.get(reverse("grants:perspective_menu"), **HTMX).content.decode()
    assert f'value="{active.creator_id}"' in menu
    assert "生效达人" in menu
    assert "到期达人" not in menu
    assert "<html" not in menu
    client.force_login(SubAccountFactory(organization=shop))  # no delegation (SPEC §12): nobody to switch to
    menu = client.get(reverse("grants:perspective_menu"), **HTMX).content.decode()
    assert "生效达人" not in menu
