"""CSV exports (SPEC §13): the creator's grant list (its tab and search), a grant's history, the
organization's grant list, the data-access log, the livestream list. UTF-8 with a BOM; no cell a
spreadsheet would evaluate (Hypothesis over the dangerous first characters, in every export);
streamed with a fixed number of queries at any length; the page's access rules."""

import csv
import io

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grants import access_log, services
from grants.factories import GrantFactory
from livestreams.factories import LivestreamFactory
from livestreams.models import Livestream
from portal.exports import FORMULA_STARTS
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory
from portal.models import Creator, Organization, User

from .conftest import TODAY, at_shanghai, d

pytestmark = pytest.mark.django_db


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    raw = b"".join(response.streaming_content).decode("utf-8")
    assert raw.startswith("\ufeff")
    return list(csv.reader(io.StringIO(raw[1:], newline="")))


@pytest.fixture
def world(frozen_today):
    creator = CreatorFactory()
    shop = ShopFactory()
    grant = GrantFactory(creator=creator, organization=shop, starts_on=d(-30))
    services.renew_early(grant=grant, ends_on=d(60), actor=creator.user)
    livestream = LivestreamFactory(creator=creator, cooperating=[shop], minutes=1)
    access_log.upsert_view(
        viewer_id=shop.main_account.pk, creator_id=creator.pk, organization_id=shop.pk, page="traffic",
        livestream_id=livestream.pk, at=at_shanghai(TODAY), day=TODAY, grant_id=grant.pk, livestream_request_id=None,
    )  # fmt: skip
    return {"creator": creator, "shop": shop, "grant": grant, "livestream": livestream}


def exports(world) -> list[tuple[User, str]]:
    creator, shop = world["creator"], world["shop"]
    return [
        (creator.user, reverse("grants:creator_grants_csv")),
        (creator.user, reverse("grants:grant_history_csv", args=[world["grant"].pk])),
        (shop.main_account, reverse("grants:grant_history_csv", args=[world["grant"].pk])),
        (shop.main_account, reverse("grants:org_grants_csv")),
        (creator.user, reverse("grants:access_log_csv")),
        (shop.main_account, reverse("grants:access_log_csv")),
        (creator.user, reverse("livestreams:creator_export", args=[creator.pk]) + f"?{_around(world['livestream'])}"),
    ]


def _around(livestream) -> str:
    from django.utils import timezone

    day = timezone.localdate(livestream.started_at)
    return f"start={day.isoformat()}&end={day.isoformat()}"


DANGEROUS = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(FORMULA_STARTS),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=DANGEROUS, title=DANGEROUS, creator_name=DANGEROUS, username=DANGEROUS)
def test_no_export_writes_a_cell_a_spreadsheet_would_evaluate(client, world, name, title, creator_name, username):
    Organization.objects.filter(pk=world["shop"].pk).update(name=name[:100])
    Livestream.objects.filter(pk=world["livestream"].pk).update(title=title[:200])
    Creator.objects.filter(pk=world["creator"].pk).update(name=creator_name[:50])
    User.objects.filter(pk=world["shop"].main_account.pk).update(username=username[:150])
    planted = {name[:100], title[:200], creator_name[:50], username[:150]}
    for user, url in exports(world):
        client.force_login(user)
        rows = read_csv(client.get(url))
        cells = [cell for row in rows for cell in row]
        assert not [c for c in cells if c.startswith(FORMULA_STARTS)], url
        neutralised = {c[1:] for c in cells if c.startswith("'")}
        assert neutralised & planted, url  # the planted text is there, made harmless


@pytest.mark.parametrize("many", [False, True])
def test_every_export_has_a_fixed_query_count(client, world, django_assert_num_queries, many):
    if many:
        for _ in range(30):
            org = ShopFactory()
            grant = GrantFactory(creator=world["creator"], organization=org)
            services.renew_early(grant=grant, ends_on=d(90), actor=world["creator"].user)
            other = GrantFactory(organization=world["shop"])
            access_log.upsert_view(
                viewer_id=org.main_account.pk, creator_id=world["creator"].pk, organization_id=org.pk,
                page="overview", livestream_id=None, at=at_shanghai(TODAY), day=TODAY, grant_id=grant.pk,
                livestream_request_id=None,
            )  # fmt: skip
            assert other.pk
    expected = {
        "grants:creator_grants_csv": 3, "grants:grant_history_csv": 4, "grants:org_grants_csv": 3,
        "grants:access_log_csv": 3,
    }  # fmt: skip
    for user, url in exports(world):
        args = {n: [world["grant"].pk] if "history" in n else [] for n in expected}
        name = next((n for n in expected if reverse(n, args=args[n]) == url), None)
        if name is None:
            continue
        client.force_login(user)
        with django_assert_num_queries(expected[name]):
            read_csv(client.get(url))


def test_the_grant_list_export_follows_the_tab_and_search(client, world):
    creator = world["creator"]
    GrantFactory(creator=creator, organization=ShopFactory(name="甲店"), expired=True)
    GrantFactory(creator=creator, organization=ShopFactory(name="乙店"), starts_on=d(-20))
    client.force_login(creator.user)

    def names(**params):
        return sorted(row[0] for row in read_csv(client.get(reverse("grants:creator_grants_csv"), params))[1:])

    assert len(names()) == 3
    assert names(status="expired") == ["甲店"]
    assert names(q="乙") == ["乙店"]
    assert names(status="idle") == ["乙店"]  # started 20 days ago, nobody looked; the shop looked today


def test_exports_answer_to_the_pages_rules(client, world):
    sub = SubAccountFactory(organization=world["shop"])
    stranger = ShopFactory().main_account
    other_creator = CreatorFactory().user
    history = reverse("grants:grant_history_csv", args=[world["grant"].pk])
    client.force_login(sub)
    for url in (history, reverse("grants:org_grants_csv"), reverse("grants:access_log_csv")):
        assert client.get(url).status_code in (403, 404), url
    client.force_login(stranger)
    assert client.get(history).status_code == 404
    assert len(read_csv(client.get(reverse("grants:org_grants_csv")))) == 1
    assert len(read_csv(client.get(reverse("grants:access_log_csv")))) == 1
    client.force_login(other_creator)
    assert client.get(history).status_code == 404
    assert len(read_csv(client.get(reverse("grants:creator_grants_csv")))) == 1
