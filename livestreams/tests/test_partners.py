"""An agency cooperates in a livestream through the import's optional ``partners`` key (SPEC §5,
DATA-FORMAT.md): it has a cooperation without products, sees the livestream in its list and may ask
for its modules; a file without the key imports as before."""

import json

import pytest
from django.urls import reverse

from grants import services
from livestreams import writes
from livestreams.factories import LivestreamFactory
from livestreams.importer import import_lines
from livestreams.models import Cooperation, Livestream
from livestreams.tests.test_import import make_record
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def parties():
    return {
        "creator": CreatorFactory(douyin_id="dy_a"),
        "shop": ShopFactory(code="shop-a"),
        "shop2": ShopFactory(code="shop-b"),
        "agency": AgencyFactory(code="agency-a"),
        "agency2": AgencyFactory(code="agency-b"),
    }


def imported(*records):
    result = import_lines([json.dumps(record, ensure_ascii=False) for record in records])
    assert result.errors == []
    return result


def cooperations(livestream):
    return {
        c.organization.code: (c.gmv, c.orders, c.units) for c in livestream.cooperations.select_related("organization")
    }


def test_partners_cooperate_without_changing_the_sums(parties):
    imported(make_record("ls-1", partners=["agency-b", "agency-a"]))
    livestream = Livestream.objects.get(external_id="ls-1")
    assert cooperations(livestream) == {
        "shop-a": (livestream.products.get(sku="P-1001").gmv, 110, 120),
        "shop-b": (livestream.products.get(sku="P-2001").gmv, 9, 10),
        "agency-a": (0, 0, 0),
        "agency-b": (0, 0, 0),
    }
    assert (livestream.gmv, livestream.orders, livestream.units) == (
        sum(p.gmv for p in livestream.products.all()),
        119,
        130,
    )
    assert set(livestream.cooperations.values_list("started_at", flat=True)) == {livestream.started_at}


def test_a_file_without_partners_imports_as_before_and_an_empty_list_is_none(parties):
    imported(make_record("ls-1"), make_record("ls-2", partners=[]))
    for external_id in ("ls-1", "ls-2"):
        assert set(cooperations(Livestream.objects.get(external_id=external_id))) == {"shop-a", "shop-b"}


def test_a_reimport_replaces_the_partners(parties):
    imported(make_record("ls-1", partners=["agency-a"]))
    imported(make_record("ls-1", partners=["agency-b"]))
    assert set(cooperations(Livestream.objects.get())) == {"shop-a", "shop-b", "agency-b"}
    imported(make_record("ls-1"))
    assert set(cooperations(Livestream.objects.get())) == {"shop-a", "shop-b"}


def test_the_partner_agency_sees_the_livestream_and_may_ask_for_its_modules(client, parties):
    imported(make_record("ls-1", partners=["agency-a"]))
    livestream = Livestream.objects.get()
    agency = parties["agency"]
    client.force_login(agency.main_account)
    assert (
        f'href="{reverse("livestreams:detail", args=[livestream.pk])}"'
        in client.get(reverse("livestreams:org_livestreams")).content.decode()
    )
    assert client.get(reverse("livestreams:detail", args=[livestream.pk])).status_code == 200
    request = services.request_livestream_access(livestream=livestream, actor=agency.main_account)
    assert (request.organization, request.creator_id) == (agency, livestream.creator_id)
    # Another agency, not a partner, may not.
    client.force_login(parties["agency2"].main_account)
    assert client.get(reverse("livestreams:detail", args=[livestream.pk])).status_code == 404


def test_replacing_products_keeps_the_partners_unless_told(parties):
    shop, agency = ShopFactory(), AgencyFactory()
    livestream = LivestreamFactory(cooperating=[shop], partners=[agency], minutes=0)
    assert set(livestream.cooperations.values_list("organization", flat=True)) == {shop.pk, agency.pk}
    writes.replace_products(livestream=livestream, products=[])
    assert list(Cooperation.objects.filter(livestream=livestream).values_list("organization", "gmv")) == [
        (agency.pk, 0)
    ]
    writes.replace_products(livestream=livestream, products=[], partners=[])
    assert not Cooperation.objects.filter(livestream=livestream).exists()
