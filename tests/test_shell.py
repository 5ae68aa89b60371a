"""The page shell's header is rendered once per distinct input and reused (portal.shell): it must be
exactly what rendering it would give, for every role, and change the moment what it shows changes
(a grant, a perspective, the language, a message) — in the same process, with nothing invalidated."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from grants import services
from grants.factories import GrantFactory
from notifications import services as notifications
from portal import shell
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory, UserFactory

HEADER = re.compile(r'<header class="topbar">.*?</header>', re.S)
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PAGE_TOKEN = re.compile(r'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")([^"]+)"')

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    shell.clear()
    yield
    shell.clear()


def header(response) -> str:
    assert response.status_code == 200, response.status_code
    found = HEADER.search(response.content.decode())
    assert found, "no header"
    return found.group(0)


def tokens_out(html: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value="…"', html)


CHART_ID = re.compile(r"-[0-9a-f]{8}(?=[-\"])")  # a chart's ids are drawn anew for each rendering


def all_tokens_out(html: str) -> str:
    return CHART_ID.sub("-…", PAGE_TOKEN.sub(r'\1…"', html))


@pytest.fixture
def world():
    creator = CreatorFactory(name="壳子达人")
    shop = ShopFactory(name="壳子小店")
    grant = GrantFactory(creator=creator, organization=shop)
    staff = SubAccountFactory(organization=shop)
    admin = UserFactory(is_staff=True)
    return {"creator": creator, "shop": shop, "grant": grant, "sub": staff, "admin": admin}


def pages(world):
    creator, shop = world["creator"], world["shop"]
    return [
        (creator.user, reverse("grants:creator_grants")),
        (creator.user, reverse("livestreams:creator_overview", args=[creator.pk])),
        (creator.user, reverse("grants:creator_requests") + "?status=all&q=%3Cb%3E"),
        (shop.main_account, reverse("grants:org_home")),
        (shop.main_account, reverse("livestreams:creator_overview", args=[creator.pk])),  # its perspective
        (shop.main_account, reverse("notifications:inbox")),
        (world["sub"], reverse("livestreams:org_livestreams")),
        (world["admin"], reverse("notifications:inbox")),
        (None, reverse("login")),
    ]


def test_the_cached_header_is_the_rendered_one_for_every_role(world, settings):
    """Each page twice with the cache (the second from it) and once without: the same header, and
    the same page, but for the CSRF token, which is masked anew for every response."""
    for user, url in pages(world):
        client = Client()
        if user is not None:
            client.force_login(user)
        settings.PORTAL_SHELL_CACHE = True
        first, second = client.get(url), client.get(url)
        settings.PORTAL_SHELL_CACHE = False
        rendered = client.get(url)
        heads = [header(response) for response in (first, second, rendered)]
        assert tokens_out(heads[0]) == tokens_out(heads[1]) == tokens_out(heads[2]), url
        assert TOKEN.findall(heads[0]) != TOKEN.findall(heads[1]), url  # not one token for every response
        # The whole page too: the layout around the page's own slots (title, banner, content).
        whole = [all_tokens_out(response.content.decode()) for response in (first, second, rendered)]
        assert whole[0] == whole[1] == whole[2], url
    assert len(shell._fragments) == len(pages(world))


def test_the_language_forms_path_is_each_requests_own_escaped(world, client):
    client.force_login(world["creator"].user)
    url = reverse("grants:creator_requests")
    for query, shown in (("?status=all", "?status=all"), ("?q=%22%3E%3Cb%3E", "?q=%22%3E%3Cb%3E")):
        html = header(client.get(url + query))
        assert f'name="next" type="hidden" value="{url}{shown}"' in html
    assert len(shell._fragments) == 1  # one fragment: the path is filled in, not part of the key


def test_a_token_from_a_cached_header_is_accepted(world):
    """The logout form of a header served from the cache carries this client's token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["shop"].main_account)
    url = reverse("grants:org_home")
    client.get(url)
    token = TOKEN.search(header(client.get(url))).group(1)  # the second: from the cache
    response = client.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_a_narrowed_grant_changes_the_header_on_the_next_request(world, client):
    creator, main = world["creator"], world["shop"].main_account
    client.force_login(main)
    overview = reverse("livestreams:creator_overview", args=[creator.pk])
    assert f'href="{overview}"' in header(client.get(overview))  # 达人数据 → the overview
    services.change_scope(grant=world["grant"], scope=["livestreams"], actor=creator.user)
    livestreams = reverse("livestreams:creator_livestreams", args=[creator.pk])
    html = header(client.get(livestreams))
    assert f'href="{livestreams}"' in html
    assert f'href="{overview}"' not in html


def test_a_revoked_grant_takes_the_creator_out_of_the_header(world, client):
    creator, main = world["creator"], world["shop"].main_account
    client.force_login(main)
    home = reverse("grants:org_home")
    client.get(reverse("livestreams:creator_overview", args=[creator.pk]))  # enters the perspective
    assert "壳子达人" in header(client.get(home))
    services.revoke(grant=world["grant"], actor=creator.user)
    html = header(client.get(home, follow=True))
    assert "壳子达人" not in html
    assert "壳子小店" in html


def test_switching_the_perspective_changes_the_header(world, client):
    creator, main = world["creator"], world["shop"].main_account
    client.force_login(main)
    home = reverse("grants:org_home")
    assert "壳子达人" not in header(client.get(home))
    client.post(reverse("grants:switch_perspective"), {"creator": creator.pk})
    assert "壳子达人" in header(client.get(home))
    client.post(reverse("grants:switch_perspective"), {"creator": ""})
    assert "壳子达人" not in header(client.get(home))


def test_switching_the_language_changes_the_header(world, client):
    client.force_login(world["shop"].main_account)
    home = reverse("grants:org_home")
    assert "退出" in header(client.get(home))
    client.post(reverse("set_language"), {"language": "en", "next": home})
    html = header(client.get(home))
    assert "Log out" in html
    assert "退出" not in html
    client.post(reverse("set_language"), {"language": "zh-hans", "next": home})
    assert "退出" in header(client.get(home))


def test_a_new_message_changes_the_bell_on_the_next_request(world, client):
    main = world["shop"].main_account
    client.force_login(main)
    home = reverse("grants:org_home")
    assert 'class="bell-count" hidden' in header(client.get(home))
    notifications.notify(
        recipients=[main], kind="grant_changed", link="/org/",
        params={"creator": "壳子达人", "operation": "renew", "starts_on": "2026-12-01", "ends_on": "2027-01-01"},
    )  # fmt: skip
    assert re.search(r'class="bell-count">1<', header(client.get(home)))


def test_a_renamed_organization_changes_the_header(world, client):
    client.force_login(world["shop"].main_account)
    home = reverse("grants:org_home")
    assert "壳子小店" in header(client.get(home))
    type(world["shop"]).objects.filter(pk=world["shop"].pk).update(name="改名小店")
    html = header(client.get(home))
    assert "改名小店" in html
    assert "壳子小店" not in html


def test_an_input_of_an_unknown_kind_is_refused():
    with pytest.raises(TypeError, match="cannot fingerprint"):
        shell.fingerprint(object())


def test_a_deferred_field_is_not_loaded_for_the_key(world, django_assert_num_queries):
    shop = type(world["shop"]).objects.only("pk").get(pk=world["shop"].pk)
    with django_assert_num_queries(0):
        shell.fingerprint(shop)


# --- the whole page (shell.render_page): an ended livestream's module ---------------------------


@pytest.fixture
def module_page(world):
    from livestreams.factories import LivestreamFactory

    stream = LivestreamFactory(creator=world["creator"], cooperating=[world["shop"]], minutes=20, title="整页直播")
    return stream, reverse("livestreams:traffic", args=[stream.pk])


def test_the_kept_page_is_the_rendered_one(world, module_page, settings):
    """The module page three times: rendered and kept, from the kept page, and without the shell
    cache at all: the same bytes but for the CSRF tokens, each response its own."""
    _stream, url = module_page
    client = Client()
    client.force_login(world["shop"].main_account)
    settings.PORTAL_SHELL_CACHE = True
    first, second = client.get(url), client.get(url)
    assert len(shell._pages) == 1
    settings.PORTAL_SHELL_CACHE = False
    rendered = client.get(url)
    pages = [response.content.decode() for response in (first, second, rendered)]
    assert all_tokens_out(pages[0]) == all_tokens_out(pages[1]) == all_tokens_out(pages[2])
    tokens = [PAGE_TOKEN.findall(page) for page in pages]
    assert tokens[0]
    assert tokens[0] != tokens[1]  # filled in anew, not kept
    assert "整页直播" in pages[1]


def test_a_token_from_a_kept_page_is_accepted(world, module_page):
    _stream, url = module_page
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["shop"].main_account)
    client.get(url)
    token = TOKEN.search(client.get(url).content.decode()).group(1)  # the second: the kept page
    assert len(shell._pages) == 1
    assert client.post(reverse("logout"), {"csrfmiddlewaretoken": token}).status_code == 302


def test_a_kept_page_is_not_served_once_access_ends(world, module_page, client):
    """The decision runs before the page is looked up: a revoked grant refuses the kept page."""
    _stream, url = module_page
    client.force_login(world["shop"].main_account)
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    services.revoke(grant=world["grant"], actor=world["creator"].user)
    response = client.get(url)
    assert response.status_code == 403
    assert "整页直播" not in response.content.decode()


def test_what_the_page_shows_changes_it_on_the_next_request(world, module_page, client):
    """A renamed livestream (its row in the key), a renamed organization (the layout's input) and
    another language each give another page."""
    stream, url = module_page
    client.force_login(world["shop"].main_account)
    assert "整页直播" in client.get(url).content.decode()
    type(stream).objects.filter(pk=stream.pk).update(title="改名直播")
    assert "改名直播" in client.get(url).content.decode()
    type(world["shop"]).objects.filter(pk=world["shop"].pk).update(name="改名小店")
    assert "改名小店" in client.get(url).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": url})
    assert "Log out" in client.get(url).content.decode()
    assert len(shell._pages) == 4


def test_messages_are_shown_once_not_kept(world, module_page, client, settings):
    """A page with a message to show is rendered with it, and the next one is without it."""
    from django.contrib.messages import SUCCESS, add_message
    from django.contrib.messages.storage.session import SessionStorage
    from django.http import HttpResponse
    from django.test import RequestFactory

    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
    _stream, url = module_page
    client.force_login(world["shop"].main_account)
    client.get(url)  # kept, without messages
    request = RequestFactory().get(url)
    request.session = client.session
    request._messages = SessionStorage(request)
    add_message(request, SUCCESS, "一次性消息")
    request._messages.update(HttpResponse())
    request.session.save()
    assert "一次性消息" in client.get(url).content.decode()
    assert "一次性消息" not in client.get(url).content.decode()
    assert len(shell._pages) == 1


def test_a_page_made_from_a_lagging_replica_is_shown_not_kept(world, module_page, client, monkeypatch):
    from portal import replicas

    _stream, url = module_page
    monkeypatch.setattr(replicas, "agrees", lambda instance: False)
    client.force_login(world["shop"].main_account)
    assert "整页直播" in client.get(url).content.decode()
    assert len(shell._pages) == 0
