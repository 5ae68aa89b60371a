import pytest
from django.urls import reverse

from livestreams.factories import LivestreamFactory
from livestreams.models import Audience, Cooperation, Funnel, Livestream, MinutePoint, ProductSale, TrafficSources
from portal.factories import AgencyFactory, ShopFactory
from portal.models import User

pytestmark = pytest.mark.django_db

MODELS = [Livestream, ProductSale, Cooperation, MinutePoint, Funnel, TrafficSources, Audience]


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456-x"))
    return client


@pytest.fixture
def livestream():
    return LivestreamFactory(minutes=300, cooperating=[ShopFactory(), AgencyFactory()])


def url(model, view, *args):
    return reverse(f"admin:livestreams_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_changelist_renders_and_searches(staff_client, livestream, model):
    assert staff_client.get(url(model, "changelist")).status_code == 200
    assert staff_client.get(url(model, "changelist"), {"q": livestream.external_id}).status_code == 200


def test_changelist_query_count_does_not_grow_with_rows(staff_client, livestream, django_assert_max_num_queries):
    LivestreamFactory.create_batch(5, minutes=0)
    with django_assert_max_num_queries(8):
        assert staff_client.get(url(Livestream, "changelist")).status_code == 200
    with django_assert_max_num_queries(8):
        assert staff_client.get(url(ProductSale, "changelist")).status_code == 200


def test_livestream_page_shows_a_minute_count_not_the_minutes(staff_client, livestream):
    response = staff_client.get(url(Livestream, "change", livestream.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert "300 条" in content
    assert f"?livestream__exact={livestream.pk}" in content
    # The minute rows themselves are not on the page.
    assert content.count("minutes-") == 0


def test_minute_list_filters_by_livestream(staff_client, livestream):
    other = LivestreamFactory(minutes=2, cooperating=[])
    response = staff_client.get(url(MinutePoint, "changelist"), {"livestream__exact": other.pk})
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == list(MinutePoint.objects.filter(livestream=other).reverse())


def test_live_filter(staff_client, livestream):
    live = LivestreamFactory(live=True, minutes=0, cooperating=[])
    response = staff_client.get(url(Livestream, "changelist"), {"live": "yes"})
    assert list(response.context["cl"].queryset) == [live]
