"""The livestream admin: lists, searches and shows everything; writes only through the writers
(a livestream's creator and its deletion), and nothing derived or imported otherwise."""

import pytest
from django.urls import reverse
from django.utils import timezone

from grants import services
from grants.models import LivestreamAccessRequest
from livestreams.factories import LivestreamFactory
from livestreams.models import (
    Audience,
    Cooperation,
    CreatorDay,
    Funnel,
    Livestream,
    MinutePoint,
    ProductSale,
    TrafficSources,
)
from portal.factories import AgencyFactory, CreatorFactory, ShopFactory
from portal.models import User

pytestmark = pytest.mark.django_db

MODELS = [Livestream, ProductSale, Cooperation, MinutePoint, Funnel, TrafficSources, Audience, CreatorDay]


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
    search = livestream.external_id if model is not CreatorDay else livestream.creator.douyin_id
    response = staff_client.get(url(model, "changelist"), {"q": search})
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


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


# --- read-only, except what goes through the writers ----------------------------------------------

READ_ONLY = [ProductSale, Cooperation, MinutePoint, Funnel, TrafficSources, Audience, CreatorDay]


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_derived_and_imported_rows_cannot_be_added_changed_or_deleted(staff_client, livestream, model):
    row = model.objects.first()
    assert staff_client.get(url(model, "add")).status_code == 403
    assert staff_client.get(url(model, "delete", row.pk)).status_code == 403
    assert staff_client.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    changelist = staff_client.get(url(model, "changelist"))
    assert "delete_selected" not in changelist.content.decode()
    # The change page is a view page: a POST changes nothing.
    assert staff_client.get(url(model, "change", row.pk)).status_code == 200
    assert staff_client.post(url(model, "change", row.pk), {}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


def test_a_livestream_cannot_be_added_in_the_admin(staff_client):
    assert staff_client.get(url(Livestream, "add")).status_code == 403


def change_form_data(client, livestream, **fields):
    """What the change page's form posts (the creator, the inlines' management forms), with ``fields``."""
    response = client.get(url(Livestream, "change", livestream.pk))
    data = {"creator": livestream.creator_id, "_save": "Save"}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data[f"{formset.prefix}-TOTAL_FORMS"] = formset.total_form_count()
        data[f"{formset.prefix}-INITIAL_FORMS"] = formset.initial_form_count()
    data.update(fields)
    return data


def test_changing_the_creator_in_the_admin_moves_the_livestream_and_ends_its_requests(staff_client, livestream):
    shop = livestream.cooperations.filter(organization__kind="shop").get().organization
    request = services.request_livestream_access(livestream=livestream, actor=shop.main_account)
    old, new = livestream.creator, CreatorFactory()
    day = livestream.started_at.astimezone(timezone.get_default_timezone()).date()
    data = change_form_data(staff_client, livestream, creator=new.pk, title="changed in the admin")
    response = staff_client.post(url(Livestream, "change", livestream.pk), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    fresh = Livestream.objects.get(pk=livestream.pk)
    assert (fresh.creator, fresh.title) == (new, livestream.title)  # the title is the import's
    assert fresh.updated_at > livestream.updated_at
    assert not CreatorDay.objects.filter(creator=old, day=day).exists()
    assert CreatorDay.objects.get(creator=new, day=day).gmv == fresh.gmv
    ended = LivestreamAccessRequest.objects.get(pk=request.pk)
    assert (ended.status, ended.creator_id) == ("ended", old.pk)  # stays with the creator it was made to
    event = ended.events.order_by("-pk").first()
    assert (event.operation, event.actor) == ("end", response.wsgi_request.user)


def test_saving_without_a_change_writes_nothing(staff_client, livestream):
    before = Livestream.objects.get(pk=livestream.pk).updated_at
    response = staff_client.post(url(Livestream, "change", livestream.pk), change_form_data(staff_client, livestream))
    assert response.status_code == 302
    assert Livestream.objects.get(pk=livestream.pk).updated_at == before


def test_deleting_in_the_admin_goes_through_the_writer(staff_client, livestream):
    creator = livestream.creator
    other = LivestreamFactory(creator=creator, started_at=livestream.started_at, minutes=0)
    assert staff_client.post(url(Livestream, "delete", livestream.pk), {"post": "yes"}).status_code == 302
    assert not Livestream.objects.filter(pk=livestream.pk).exists()
    assert not ProductSale.objects.filter(livestream_id=livestream.pk).exists()
    assert CreatorDay.objects.get(creator=creator).livestreams == 1
    response = staff_client.post(
        url(Livestream, "changelist"), {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not CreatorDay.objects.filter(creator=creator).exists()


def test_a_livestream_with_access_requests_cannot_be_deleted(staff_client, livestream):
    shop = livestream.cooperations.filter(organization__kind="shop").get().organization
    services.request_livestream_access(livestream=livestream, actor=shop.main_account)
    response = staff_client.post(url(Livestream, "delete", livestream.pk), {"post": "yes"})
    assert response.status_code == 200  # the "cannot delete: protected" page
    assert Livestream.objects.filter(pk=livestream.pk).exists()
    assert CreatorDay.objects.get(creator=livestream.creator).livestreams == 1
