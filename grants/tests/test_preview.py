"""以商家视角预览 (SPEC §11): the creator sees exactly what the organization would see, through the
same views and templates and the same answer (``grant_parts`` of a hypothetical grant); nothing is
written, nothing logged, and the preview is nobody else's."""

import re

import pytest
from django.urls import reverse

from grants import access
from grants.factories import GrantFactory
from grants.models import AccessLogEntry, Grant, GrantEvent
from grants.perspective import SESSION_KEY
from livestreams.factories import LivestreamFactory
from portal.factories import CreatorFactory, ShopFactory

from .conftest import d

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world(frozen_today):
    creator = CreatorFactory(name="预览达人")
    shop = ShopFactory(name="预览店")
    grant = GrantFactory(creator=creator, organization=shop, starts_on=d(-5), ends_on=d(20))
    for i in range(3):
        LivestreamFactory(creator=creator, cooperating=[shop], minutes=2, title=f"预览直播{i}")
    return {"creator": creator, "shop": shop, "grant": grant}


def section(html: str, element_id: str) -> str:
    """The element with ``element_id`` (a data section of the page), ids that differ by design (each
    chart's instance id, ``livestreams.charts.frame.new_chart_id``) made alike."""
    start = html.index(f'id="{element_id}"')
    depth, pos = 0, html.rindex("<div", 0, start)
    for match in re.finditer(r"<(/?)div\b", html[pos:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return re.sub(r"\b([a-z]+(?:-[a-z]+)*)-[0-9a-f]{8}\b", r"\1-ID", html[pos : pos + match.end()])
    raise AssertionError("unclosed section")


def preview_url(world, name="livestreams:creator_preview", **kwargs):
    token = access.preview_token(creator=world["creator"], **(kwargs or {"grant": world["grant"]}))
    return reverse(name, kwargs={"creator_id": world["creator"].pk, "preview": token})


@pytest.mark.parametrize(
    ("real", "preview", "element"),
    [
        ("livestreams:creator_overview", "livestreams:creator_preview", "overview-body"),
        ("livestreams:creator_livestreams", "livestreams:creator_preview_livestreams", "livestream-table"),
    ],
)
@pytest.mark.parametrize("params", [{}, {"range": "90"}])
def test_the_preview_equals_the_real_page_for_a_real_grant(client, world, real, preview, element, params):
    client.force_login(world["shop"].main_account)
    theirs = client.get(reverse(real, args=[world["creator"].pk]), params).content.decode()
    client.force_login(world["creator"].user)
    response = client.get(preview_url(world, preview), params)
    assert response.status_code == 200
    mine = response.content.decode()
    assert section(mine, element) == section(theirs, element)
    assert "预览：这是「预览店」将看到的内容" in mine
    assert "只读" in mine  # the organization's head, not the creator's own


def test_the_preview_of_a_hypothetical_grant_from_the_authorize_dialog(client, world):
    other = ShopFactory(name="还没授权的店")
    client.force_login(world["creator"].user)
    form = {"organization": other.pk, "starts_on": d(1).isoformat(), "ends_on": d(30).isoformat()}
    before = (Grant.objects.count(), GrantEvent.objects.count())
    response = client.post(reverse("grants:preview"), form)
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "预览：这是「还没授权的店」将看到的内容" in body
    assert "预览直播" not in body or 'id="overview-body"' in body
    assert (Grant.objects.count(), GrantEvent.objects.count()) == before
    # HTMX (the dialog): the browser is sent there
    htmx = client.post(reverse("grants:preview"), form, **HTMX)
    assert htmx["HX-Redirect"] == response["Location"]


def test_the_dialog_preview_shows_the_chosen_scope_only(client, world):
    """SPEC §12 in the preview: an overview-only grant previewed from the dialog opens the overview
    and refuses the livestream list, as the real grant would; no part ticked is the dialog again."""
    other = ShopFactory(name="只看概览的店")
    client.force_login(world["creator"].user)
    form = {"organization": other.pk, "starts_on": d(1).isoformat(), "ends_on": d(30).isoformat()}
    response = client.post(reverse("grants:preview"), {**form, "scope": ["overview"], "scope_shown": "1"})
    assert response.status_code == 302
    overview = response["Location"]
    assert client.get(overview).status_code == 200
    token = overview.rstrip("/").rsplit("/", 1)[-1]
    livestreams = reverse(
        "livestreams:creator_preview_livestreams", kwargs={"creator_id": world["creator"].pk, "preview": token}
    )
    assert client.get(livestreams).status_code == 404
    whole = client.post(reverse("grants:preview"), form)  # no checkboxes shown: the whole scope
    assert client.get(whole["Location"].rstrip("/") + "/livestreams/").status_code == 200
    none = client.post(reverse("grants:preview"), {**form, "scope_shown": "1"})
    assert none.status_code == 422
    assert "请至少选择一项授权范围" in none.content.decode()


def test_a_refused_hypothetical_grant_is_the_dialog_again(client, world):
    client.force_login(world["creator"].user)
    response = client.post(reverse("grants:preview"), {"organization": "", "starts_on": "x"})
    assert response.status_code == 422


def test_the_preview_writes_nothing_and_logs_nothing(client, world):
    client.force_login(world["creator"].user)
    session_before = dict(client.session)
    for name in ("livestreams:creator_preview", "livestreams:creator_preview_livestreams"):
        assert client.get(preview_url(world, name)).status_code == 200
    assert AccessLogEntry.objects.count() == 0
    assert SESSION_KEY not in client.session
    assert dict(client.session) == session_before


def test_a_revoked_or_expired_grant_previews_what_it_opened(client, world):
    expired = GrantFactory(creator=world["creator"], expired=True)
    client.force_login(world["creator"].user)
    body = client.get(preview_url(world, grant=expired)).content.decode()
    assert 'class="kpis"' in body


@pytest.mark.parametrize("who", ["main", "other_creator", "sub"])
def test_the_preview_url_is_404_to_anyone_but_the_creator(client, world, who):
    from portal.factories import SubAccountFactory

    user = {
        "main": world["shop"].main_account,
        "other_creator": CreatorFactory().user,
        "sub": SubAccountFactory(organization=world["shop"]),
    }[who]
    url = preview_url(world)
    client.force_login(user)
    assert client.get(url).status_code == 404
    assert AccessLogEntry.objects.count() == 0


def test_a_token_for_another_creator_or_tampered_is_404(client, world):
    other = CreatorFactory()
    GrantFactory(creator=other)
    client.force_login(world["creator"].user)
    token = access.preview_token(creator=world["creator"], grant=world["grant"])
    foreign = reverse("livestreams:creator_preview", kwargs={"creator_id": other.pk, "preview": token})
    assert client.get(foreign).status_code == 404
    mine = world["creator"].pk
    tampered = reverse("livestreams:creator_preview", kwargs={"creator_id": mine, "preview": "x" + token})
    assert client.get(tampered).status_code == 404
    # another creator's grant id in a token signed for this creator
    theirs = access.preview_token(creator=world["creator"], grant=Grant.objects.get(creator=other))
    url = reverse("livestreams:creator_preview", kwargs={"creator_id": world["creator"].pk, "preview": theirs})
    assert client.get(url).status_code == 404


def test_the_grant_entry_redirects_the_creator_only_to_their_own_grants(client, world):
    client.force_login(world["creator"].user)
    response = client.get(reverse("grants:preview"), {"grant": world["grant"].pk})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    other_grant = GrantFactory()
    assert client.get(reverse("grants:preview"), {"grant": other_grant.pk}).status_code == 404
    assert client.get(reverse("grants:preview"), {"grant": "nope"}).status_code == 404


def test_the_preview_answer_is_grant_parts_of_the_hypothetical_grant(world, monkeypatch):
    """The scope of a preview comes from ``grant_parts`` (SPEC §12 narrows it there)."""
    seen = []

    def parts(grant, day=None):
        seen.append((grant.organization_id, grant.pk, day))
        return frozenset({"livestreams"})

    monkeypatch.setattr(access, "grant_parts", parts)
    token = access.preview_token(creator=world["creator"], grant=world["grant"])
    answer = access.preview_access(world["creator"].user, world["creator"].pk, token)
    assert answer.parts == frozenset({"livestreams"})
    assert seen == [(world["shop"].pk, world["grant"].pk, d(0))]
