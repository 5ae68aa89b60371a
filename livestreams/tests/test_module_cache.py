"""The rendered content of an ended livestream's modules is cached (livestreams.views.module_cache_key):
access is still checked on every request, the key follows the data (a re-import changes it), the
cached fragment holds the livestream's data and nothing of the viewer, live livestreams are never
cached, and the page around the fragment is rendered for each request."""

import datetime
import json
import random

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone, translation

from grants import services
from grants.factories import GrantFactory
from livestreams import writes
from livestreams.factories import LivestreamFactory
from livestreams.importer import import_lines
from livestreams.management.commands import make_sample_livestreams as sample
from livestreams.models import Funnel, Livestream
from livestreams.templatetags.data_format import format_compact
from livestreams.views import module_cache_key
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory

pytestmark = pytest.mark.django_db

MODULES = {"big_screen": "livestreams:big_screen", "traffic": "livestreams:traffic", "audience": "livestreams:audience"}


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world():
    creator = CreatorFactory(name="缓存达人")
    shop = ShopFactory(name="缓存店")
    stream = LivestreamFactory(creator=creator, cooperating=[shop], minutes=20, title="已结束的直播")
    return {"creator": creator, "shop": shop, "stream": stream}


def url(module, stream):
    return reverse(MODULES[module], args=[stream.pk])


def shown(count: int) -> str:
    """How the traffic module shows a count (Chinese, the default language)."""
    with translation.override("zh-hans"):
        return f'<td class="num">{format_compact(count)}</td>'


def cached(stream, module):
    stream = Livestream.objects.select_related("creator").get(pk=stream.pk)
    key = module_cache_key(stream, module)
    return key, (cache.get(key) if key else None)


@pytest.mark.parametrize("module", MODULES)
def test_a_cached_module_still_checks_access_on_every_request(client, world, module):
    stream, creator = world["stream"], world["creator"]
    staff = SubAccountFactory(organization=world["shop"])
    request = services.request_livestream_access(livestream=stream, actor=staff)
    services.approve_livestream_request(request=request, actor=creator.user)
    client.force_login(staff)
    assert client.get(url(module, stream)).status_code == 200
    assert cached(stream, module)[1] is not None  # the fragment is in the cache now
    services.revoke_livestream_access(request=request, actor=creator.user)
    response = client.get(url(module, stream))
    assert response.status_code == 403
    assert stream.title.encode() not in response.content
    assert cached(stream, module)[1] is not None  # still cached: the check, not the cache, refused


def test_a_revoked_full_grant_loses_cached_modules_at_once(client, world):
    grant = GrantFactory(creator=world["creator"], organization=world["shop"])
    client.force_login(world["shop"].main_account)
    for module in MODULES:
        assert client.get(url(module, world["stream"])).status_code == 200
    services.revoke(grant=grant, actor=world["creator"].user)
    for module in MODULES:
        assert client.get(url(module, world["stream"])).status_code == 403


def test_strangers_get_404_even_when_cached(client, world):
    client.force_login(world["creator"].user)
    for module in MODULES:
        assert client.get(url(module, world["stream"])).status_code == 200
    client.force_login(ShopFactory().main_account)
    for module in MODULES:
        assert client.get(url(module, world["stream"])).status_code == 404


def test_nothing_of_the_viewer_is_in_the_cached_fragment(client, world):
    grant = GrantFactory(creator=world["creator"], organization=world["shop"])
    main = world["shop"].main_account
    client.force_login(main)
    client.post(reverse("grants:switch_perspective"), {"creator": grant.creator_id})  # banner + switcher on
    page = client.get(url("traffic", world["stream"])).content.decode()
    token = client.cookies["csrftoken"].value
    key, fragment = cached(world["stream"], "traffic")
    assert fragment is not None
    assert fragment in page  # the page is the shell around exactly this fragment
    assert world["stream"].title in fragment
    for personal in (main.get_username(), token, 'class="banner"', "perspective-switcher", "mainnav", "csrf"):
        assert personal not in fragment, personal
    assert main.get_username() in page  # the shell, rendered for this user
    assert 'class="banner"' in page
    # Another user served from the same cache entry sees their own shell, nothing of the first.
    client.force_login(world["creator"].user)
    page = client.get(url("traffic", world["stream"])).content.decode()
    assert fragment in page
    assert main.get_username() not in page
    assert world["creator"].user.get_username() in page
    assert cached(world["stream"], "traffic")[0] == key


def test_the_shell_is_rendered_for_each_request(client, world):
    GrantFactory(creator=world["creator"], organization=world["shop"])
    main = world["shop"].main_account
    client.force_login(world["creator"].user)
    first = client.get(url("audience", world["stream"])).content.decode()
    assert cached(world["stream"], "audience")[1] is not None
    client.force_login(main)
    second = client.get(url("audience", world["stream"])).content.decode()  # from the cache
    assert f'<span class="who muted">{main.username}</span>' in second
    assert f'<span class="who muted">{world["creator"].user.username}</span>' not in second
    assert f'<span class="who muted">{world["creator"].user.username}</span>' in first


def test_the_key_changes_when_the_livestream_changes(client, world):
    stream = world["stream"]
    client.force_login(world["creator"].user)
    client.get(url("traffic", stream))
    key, _fragment = cached(stream, "traffic")
    Funnel.objects.filter(livestream=stream).update(impressions=987654321)  # under the cache: not seen
    assert shown(987654321) not in client.get(url("traffic", stream)).content.decode()
    stream.refresh_from_db()
    # Any write through the writers (an import is one) moves updated_at, so the key changes.
    writes.update_live_figures(livestream=stream, totals={"viewers": stream.viewers})
    assert cached(stream, "traffic")[0] != key
    assert shown(987654321) in client.get(url("traffic", stream)).content.decode()


def test_a_reimport_changes_the_key_and_the_content(client):
    for code in sample.SHOPS:
        ShopFactory(code=code)
    creator = CreatorFactory(douyin_id="dy_cache_1")
    rng = random.Random(11)
    started = timezone.now() - datetime.timedelta(days=2)

    def line(impressions):
        record = sample.sample_record(rng, external_id="cache-1", creator="dy_cache_1", started_at=started, count=5)
        record["funnel"]["impressions"] = impressions
        return json.dumps(record)

    assert import_lines([line(111111)]).created == 1
    stream = Livestream.objects.get(external_id="cache-1")
    client.force_login(creator.user)
    assert shown(111111) in client.get(url("traffic", stream)).content.decode()
    key = cached(stream, "traffic")[0]
    assert import_lines([line(222222)]).updated == 1
    assert cached(stream, "traffic")[0] != key
    page = client.get(url("traffic", stream)).content.decode()
    assert shown(222222) in page
    assert shown(111111) not in page


def test_live_livestreams_are_never_cached(client):
    creator = CreatorFactory()
    live = LivestreamFactory(creator=creator, live=True, minutes=3)
    ending_later = LivestreamFactory(
        creator=creator, started_at=timezone.now() - datetime.timedelta(minutes=30), minutes=3, duration=90
    )  # ends an hour from now: its data may still come in
    client.force_login(creator.user)
    for stream in (live, ending_later):
        assert module_cache_key(Livestream.objects.select_related("creator").get(pk=stream.pk), "traffic") is None
        for module in MODULES:
            assert client.get(url(module, stream)).status_code == 200
    assert 'hx-trigger="every 5s"' in client.get(url("big_screen", live)).content.decode()


def test_each_language_has_its_own_entry(client, world):
    client.force_login(world["creator"].user)
    chinese = client.get(url("traffic", world["stream"])).content.decode()
    client.cookies["portal_language"] = "en"
    english = client.get(url("traffic", world["stream"])).content.decode()
    assert "转化漏斗" in chinese
    assert "转化漏斗" not in english
    assert "Conversion funnel" in english or "funnel" in english.lower()
